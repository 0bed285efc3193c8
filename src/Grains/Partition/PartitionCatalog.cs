using System.Security.Cryptography;
using System.Collections.Concurrent;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>
/// This silo's disks and the partition copies it hosts. PartitionGrain activations reserve and
/// destroy entries; the data endpoint finds them to append pushed batches and read chunks. A slot is
/// one partition copy on one disk; a copy goes to the healthy disk with the most free slots.
/// </summary>
public sealed class PartitionCatalog : IDisposable
{
    private readonly ConcurrentDictionary<PartitionKey, HostedPartition> _partitions = new();
    private readonly Lock _reserveGate = new();
    private readonly Dictionary<string, List<(byte[] Key, int Copies)>> _applicationKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ApplicationUsage> _usage = new(StringComparer.Ordinal);
    private readonly StorageOptions _options;

    public PartitionCatalog(StorageOptions options)
    {
        _options = options;
        // Leftovers first, so the slots count the space they held.
        LeftoversDeleted = options.Directories.Sum(StorageDirectory.DeleteLeftovers);
        Disks = options.Directories.Select(d => new StorageDirectory(d, options)).ToList();
        Budget = new MemoryBudget(options.MaxBufferedBytes, options.BufferPieceBytes) { Trim = FlushPartialBuffers };
        ApplicationByteLimit = options.MaxApplicationBytes > 0 ? options.MaxApplicationBytes
            : StorageBytes(options.Directories) is var storage && storage == long.MaxValue ? long.MaxValue : storage / 2;
    }

    /// <summary>Bytes one application's copies may hold on this silo (Storage:MaxApplicationBytes, or half the storage).</summary>
    public long ApplicationByteLimit { get; }

    /// <summary>What the application's copies hold on this silo; null when it has none here.</summary>
    public ApplicationUsage? UsageOf(string appId)
    {
        lock (_reserveGate) return _usage.GetValueOrDefault(appId);
    }

    /// <summary>
    /// The size of the file systems the disks are on, each counted once: a disk's file system is the
    /// mounted one with the longest mount point above it (disks that share one count once). A disk
    /// that cannot be measured counts nothing; with none measured there is no limit.
    /// </summary>
    internal static long StorageBytes(IEnumerable<string> directories)
    {
        DriveInfo[] mounts;
        try
        {
            mounts = DriveInfo.GetDrives();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            mounts = [];
        }
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string directory in directories)
        {
            string path = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
            var mount = mounts.Where(m => path.StartsWith(m.Name.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                .MaxBy(m => m.Name.Length);
            try
            {
                if (mount is { IsReady: true }) sizes[mount.Name] = mount.TotalSize;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return sizes.Count == 0 ? long.MaxValue : sizes.Values.Sum();
    }

    public IReadOnlyList<StorageDirectory> Disks { get; }

    /// <summary>Disks that take partitions now: healthy, with slots.</summary>
    public IEnumerable<StorageDirectory> UsableDisks => Disks.Where(d => d.Healthy && d.TotalSlots > 0);

    /// <summary>Partition files of an earlier incarnation of this silo, deleted at start.</summary>
    public int LeftoversDeleted { get; }

    public MemoryBudget Budget { get; }

    public int TotalSlots => Disks.Sum(d => d.Healthy ? d.TotalSlots : 0);

    public int FreeSlots => Disks.Sum(d => d.FreeSlots);

    /// <summary>A primary whose file reaches this size asks its pushers to split to a new epoch.</summary>
    public long SplitThresholdBytes => _options.SplitThresholdBytes;

    public int Count => _partitions.Count;

    public IEnumerable<HostedPartition> All => _partitions.Values;

    public HostedPartition? Find(in PartitionKey key) => _partitions.TryGetValue(key, out var partition) ? partition : null;

    /// <summary>
    /// Hosts a copy of <paramref name="key"/> on the disk with the most free slots. Idempotent: a copy
    /// already hosted in the same role, with the same replica, is returned as it is; in another,
    /// InvalidArgument. NoSlots when no healthy disk has a free slot.
    /// </summary>
    public HostedPartition Reserve(PartitionKey key, PartitionRole role, SiloEndpoint? replica, byte[]? applicationKey = null)
    {
        lock (_reserveGate)
        {
            if (_partitions.TryGetValue(key, out var existing))
            {
                // A copy an earlier registration of the application id left (its deletion failed): never handed to the new owner.
                if (applicationKey is not null && (existing.ApplicationKey is null || !CryptographicOperations.FixedTimeEquals(existing.ApplicationKey, applicationKey)))
                    throw new GridException(GridErrorCode.InvalidArgument, $"{key} is hosted here for an earlier registration of application {key.AppId}.");
                if (existing.Role == role && existing.Replica == replica) return existing;
                throw new GridException(GridErrorCode.InvalidArgument,
                    $"{key} is hosted here as {existing.Role} (replica {existing.Replica?.Endpoint ?? "none"}), not as {role} (replica {replica?.Endpoint ?? "none"}).");
            }
            var disk = Disks.Where(d => d.Healthy).MaxBy(d => d.FreeSlots);
            if (disk is null || !disk.TryReserveSlot())
                throw new GridException(GridErrorCode.NoSlots, $"No free slot on this silo for {key} ({FreeSlots} free of {TotalSlots}).");
            var file = new PartitionFileWriter(disk.PartitionPath(key), disk.Flusher, Budget, _options.FlushBufferBytes, _options.ChunkBytes, _options.WritebackEachFlush);
            if (!_usage.TryGetValue(key.AppId, out var usage)) _usage[key.AppId] = usage = new ApplicationUsage(key.AppId, ApplicationByteLimit);
            usage.Copies++;
            var hosted = new HostedPartition(key, role, replica, disk, file) { ApplicationKey = applicationKey, Usage = usage };
            _partitions[key] = hosted;
            if (applicationKey is not null) KeepApplicationKey(key.AppId, applicationKey);
            return hosted;
        }
    }

    /// <summary>
    /// The data-plane keys of an application's copies on this silo (its ShuffleGrain hands the key over
    /// with each Reserve), for checking a proof of the application; usually one, more only while an
    /// application id registered again still has copies of its former owner here. Empty when none.
    /// </summary>
    public IReadOnlyList<byte[]> ApplicationKeys(string appId)
    {
        lock (_reserveGate) return _applicationKeys.TryGetValue(appId, out var keys) ? keys.Select(k => k.Key).ToList() : [];
    }

    // Counted per copy that holds the key, so a key leaves with the last copy that holds it. Called under _reserveGate.
    private void KeepApplicationKey(string appId, byte[] applicationKey)
    {
        if (!_applicationKeys.TryGetValue(appId, out var keys)) _applicationKeys[appId] = keys = [];
        int index = keys.FindIndex(k => CryptographicOperations.FixedTimeEquals(k.Key, applicationKey));
        if (index < 0) keys.Add((applicationKey, 1));
        else keys[index] = (keys[index].Key, keys[index].Copies + 1);
    }

    private void ReleaseUsage(HostedPartition partition)
    {
        if (partition.Usage is not { } usage) return;
        partition.ReleaseUsage();
        lock (_reserveGate)
        {
            if (--usage.Copies == 0 && _usage.GetValueOrDefault(usage.AppId) == usage) _usage.Remove(usage.AppId);
        }
    }

    private void ReleaseApplicationKey(HostedPartition partition)
    {
        if (partition.ApplicationKey is not { } applicationKey) return;
        lock (_reserveGate)
        {
            if (!_applicationKeys.TryGetValue(partition.Key.AppId, out var keys)) return;
            int index = keys.FindIndex(k => CryptographicOperations.FixedTimeEquals(k.Key, applicationKey));
            if (index < 0) return;
            if (keys[index].Copies > 1) keys[index] = (keys[index].Key, keys[index].Copies - 1);
            else keys.RemoveAt(index);
            if (keys.Count == 0) _applicationKeys.Remove(partition.Key.AppId);
        }
    }

    /// <summary>Flushes and closes the copy's file; StorageFailure if its disk failed (the other copy may still hold the data).</summary>
    public Task<CommittedFile> CommitAsync(HostedPartition partition) => partition.CommitAsync(_options.FsyncOnCommit);

    /// <summary>Deletes the copy's file and frees its slot; the shuffle's directory goes with its last file.</summary>
    public async Task DestroyAsync(PartitionKey key)
    {
        if (!_partitions.TryRemove(key, out var partition)) return;
        ReleaseApplicationKey(partition);
        partition.Disk.ReleaseSlot();
        await partition.File.DeleteAsync().ConfigureAwait(false);
        // After the delete: a push handled meanwhile has counted its bytes by now, and they go too.
        ReleaseUsage(partition);
        string shuffleDirectory = partition.Disk.ShuffleDirectory(key.AppId, key.ShuffleId);
        string appDirectory = partition.Disk.AppDirectory(key.AppId);
        TryDeleteEmpty(shuffleDirectory);
        TryDeleteEmpty(appDirectory);
        if (_partitions.IsEmpty) ReleaseIdleMemory();
    }

    /// <summary>
    /// The last copy is gone, so no push needs a buffer: the budget's kept buffers go back to the
    /// GC, and a compacting collection hands their pages to the OS, so the silo's memory drops back
    /// after a job instead of staying at its peak. Skipped when little is kept: a full blocking
    /// collection costs more than a few megabytes are worth.
    /// </summary>
    private void ReleaseIdleMemory()
    {
        if (Budget.ReleaseKeptBuffers() < IdleReleaseMinBytes) return;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private const long IdleReleaseMinBytes = 16L << 20;

    private static void TryDeleteEmpty(string directory)
    {
        try
        {
            if (Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any()) Directory.Delete(directory);
        }
        catch (IOException)
        {
            // Another copy's file appeared meanwhile, or the directory is gone already: either is fine.
        }
    }

    /// <summary>Hands every partly filled buffer to its disk; see <see cref="MemoryBudget.Trim"/>.</summary>
    private void FlushPartialBuffers()
    {
        foreach (var partition in _partitions.Values) partition.File.FlushPartial();
    }

    /// <summary>
    /// The silo is stopping: its copies die with it (a restarted silo is a new incarnation and takes
    /// no file of the old one up), so their files are deleted rather than left to fill the disk.
    /// </summary>
    public void Dispose()
    {
        // All at once, under one bound: a hung disk must not hold the silo's shutdown for a wait per file.
        var deletes = Task.WhenAll(_partitions.Keys.ToList().Select(key => DestroyAsync(key)));
        try
        {
            deletes.Wait(DisposeTimeout);
        }
        catch (AggregateException)
        {
            // A file that cannot be deleted stays; the silo stops anyway.
        }
        foreach (var disk in Disks) disk.Dispose();
    }

    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(30);
}
