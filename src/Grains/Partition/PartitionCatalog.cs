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
    private readonly Dictionary<string, (byte[] Key, int Copies)> _applicationKeys = new(StringComparer.Ordinal);
    private readonly StorageOptions _options;

    public PartitionCatalog(StorageOptions options)
    {
        _options = options;
        // Leftovers first, so the slots count the space they held.
        LeftoversDeleted = options.Directories.Sum(StorageDirectory.DeleteLeftovers);
        Disks = options.Directories.Select(d => new StorageDirectory(d, options)).ToList();
        Budget = new MemoryBudget(options.MaxBufferedBytes, options.BufferPieceBytes) { Trim = FlushPartialBuffers };
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
                if (existing.Role == role && existing.Replica == replica) return existing;
                throw new GridException(GridErrorCode.InvalidArgument,
                    $"{key} is hosted here as {existing.Role} (replica {existing.Replica?.Endpoint ?? "none"}), not as {role} (replica {replica?.Endpoint ?? "none"}).");
            }
            var disk = Disks.Where(d => d.Healthy).MaxBy(d => d.FreeSlots);
            if (disk is null || !disk.TryReserveSlot())
                throw new GridException(GridErrorCode.NoSlots, $"No free slot on this silo for {key} ({FreeSlots} free of {TotalSlots}).");
            var file = new PartitionFileWriter(disk.PartitionPath(key), disk.Flusher, Budget, _options.FlushBufferBytes, _options.ChunkBytes, _options.WritebackEachFlush);
            var hosted = new HostedPartition(key, role, replica, disk, file);
            _partitions[key] = hosted;
            if (applicationKey is not null) KeepApplicationKey(key.AppId, applicationKey);
            return hosted;
        }
    }

    /// <summary>
    /// The data-plane key of an application with a copy on this silo (its ShuffleGrain hands it over
    /// with each Reserve), for proving the application's data connections; null when none is here.
    /// </summary>
    public byte[]? ApplicationKey(string appId)
    {
        lock (_reserveGate) return _applicationKeys.TryGetValue(appId, out var entry) ? entry.Key : null;
    }

    // Counted per copy, so the key leaves with the application's last copy on this silo. A newer key
    // (the application id registered again) replaces the old one. Called under _reserveGate.
    private void KeepApplicationKey(string appId, byte[] applicationKey)
    {
        int copies = _applicationKeys.TryGetValue(appId, out var entry) ? entry.Copies : 0;
        _applicationKeys[appId] = (applicationKey, copies + 1);
    }

    private void ReleaseApplicationKey(PartitionKey key)
    {
        lock (_reserveGate)
        {
            if (!_applicationKeys.TryGetValue(key.AppId, out var entry)) return;
            if (entry.Copies <= 1) _applicationKeys.Remove(key.AppId);
            else _applicationKeys[key.AppId] = (entry.Key, entry.Copies - 1);
        }
    }

    /// <summary>Flushes and closes the copy's file; StorageFailure if its disk failed (the other copy may still hold the data).</summary>
    public Task<CommittedFile> CommitAsync(HostedPartition partition) => partition.CommitAsync(_options.FsyncOnCommit);

    /// <summary>Deletes the copy's file and frees its slot; the shuffle's directory goes with its last file.</summary>
    public async Task DestroyAsync(PartitionKey key)
    {
        if (!_partitions.TryRemove(key, out var partition)) return;
        ReleaseApplicationKey(key);
        partition.Disk.ReleaseSlot();
        await partition.File.DeleteAsync().ConfigureAwait(false);
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
