using System.Collections.Concurrent;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>
/// The PartitionGrain activations of this silo, and the disks they live on. Reserving creates an
/// activation on the disk with the most free slots; destroying deletes files and frees slots.
/// </summary>
public sealed class PartitionCatalog : IDisposable
{
    private readonly ConcurrentDictionary<PartitionKey, PartitionGrain> _grains = new();
    private readonly object _reserveGate = new();
    private readonly StorageOptions _options;
    private readonly TimeProvider _time;

    public PartitionCatalog(StorageOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        Disks = options.Directories.Select(d => new StorageDirectory(d, StorageDirectory.DeriveSlots(d, options))).ToList();
        Budget = new MemoryBudget(options.MaxBufferedBytes) { Trim = FlushPartialBuffers };
    }

    public IReadOnlyList<StorageDirectory> Disks { get; }

    public MemoryBudget Budget { get; }

    public int TotalSlots => Disks.Sum(d => d.Healthy ? d.TotalSlots : 0);

    /// <summary>A primary whose file reaches this size asks its pushers to split to a new epoch.</summary>
    public long SplitThresholdBytes => _options.SplitThresholdBytes;

    public int FreeSlots => Disks.Sum(d => d.FreeSlots);

    public int Count => _grains.Count;

    public IEnumerable<PartitionGrain> All => _grains.Values;

    public PartitionGrain? Find(in PartitionKey key) => _grains.TryGetValue(key, out var grain) ? grain : null;

    /// <summary>
    /// Activates the given partition epochs here, each on the disk with the most free slots.
    /// Idempotent for epochs already active. All or nothing: if slots run out, the epochs this call
    /// created are released and NoSlots is thrown.
    /// </summary>
    public void Reserve(string appId, int shuffleId, IReadOnlyList<PartitionReservation> partitions)
    {
        IdValidator.ValidateAppId(appId);
        IdValidator.ValidateShuffleId(shuffleId);
        foreach (var p in partitions) IdValidator.ValidatePartition(p.PartitionId, p.Epoch);

        var created = new List<PartitionGrain>();
        lock (_reserveGate)
        {
            foreach (var p in partitions)
            {
                var key = new PartitionKey(appId, shuffleId, p.PartitionId, p.Epoch);
                if (_grains.TryGetValue(key, out var existing))
                {
                    // A placement round that failed elsewhere may reserve the same epoch again with
                    // another role or peer; an activation that has no data yet simply takes them.
                    if ((existing.Role != p.Role || existing.Peer != p.Peer) && existing.PushedBatches == 0)
                        _grains[key] = new PartitionGrain(key, p.Role, p.Peer, existing.Disk, existing.File, _time);
                    continue;
                }
                var disk = Disks.Where(d => d.Healthy).MaxBy(d => d.FreeSlots);
                if (disk is null || !disk.TryReserveSlot())
                {
                    foreach (var grain in created) Remove(grain);
                    throw new GridException(ErrorCode.NoSlots, $"No free slot on this silo for {key} ({FreeSlots} free).");
                }
                var file = new PartitionFileWriter(disk.PartitionPath(key), disk.Flusher, Budget, _options.FlushBufferBytes, _options.ChunkBytes);
                var activation = new PartitionGrain(key, p.Role, p.Peer, disk, file, _time);
                _grains[key] = activation;
                created.Add(activation);
            }
        }
    }

    /// <summary>Hands every partly filled buffer to its disk; see <see cref="MemoryBudget.Trim"/>.</summary>
    private void FlushPartialBuffers()
    {
        foreach (var grain in _grains.Values) grain.File.FlushPartial();
    }

    /// <summary>
    /// Commits the given epochs. The reply lists the epochs that committed; an epoch that is not here
    /// or whose file failed is left out, so one bad file does not sink the other epochs of the silo.
    /// </summary>
    public async Task<CommitReply> CommitAsync(string appId, int shuffleId, IReadOnlyList<PartitionRef> partitions)
    {
        var grains = partitions.Select(p => Find(new PartitionKey(appId, shuffleId, p.PartitionId, p.Epoch))).OfType<PartitionGrain>().ToList();
        var outcomes = await Task.WhenAll(grains.Select(async g =>
        {
            try
            {
                return await g.CommitAsync(_options.FsyncOnCommit).ConfigureAwait(false);
            }
            catch (GridException)
            {
                return null; // StorageFailure: this copy is lost; the grain reports the epoch lost if no copy committed
            }
        })).ConfigureAwait(false);
        return new CommitReply(outcomes.OfType<CommittedPartition>().ToList());
    }

    /// <summary>Deletes the partitions of one shuffle (or all shuffles, with <see cref="ShuffleRequest.AllShuffles"/>) and frees their slots.</summary>
    public async Task<int> DestroyAsync(string appId, int shuffleId)
    {
        IdValidator.ValidateAppId(appId);
        var doomed = _grains.Values.Where(g => g.Key.AppId == appId && (shuffleId == ShuffleRequest.AllShuffles || g.Key.ShuffleId == shuffleId)).ToList();
        foreach (var grain in doomed)
        {
            if (_grains.TryRemove(grain.Key, out _))
            {
                grain.Disk.ReleaseSlot();
                await grain.File.DeleteAsync().ConfigureAwait(false);
            }
        }
        foreach (var disk in Disks)
        {
            string directory = shuffleId == ShuffleRequest.AllShuffles ? disk.AppDirectory(appId) : disk.ShuffleDirectory(appId, shuffleId);
            try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
            catch (IOException) { /* a file still open elsewhere; the next destroy or the expiry sweep retries */ }
        }
        return doomed.Count;
    }

    private void Remove(PartitionGrain grain)
    {
        if (_grains.TryRemove(grain.Key, out _)) grain.Disk.ReleaseSlot();
    }

    public void Dispose()
    {
        foreach (var disk in Disks) disk.Dispose();
    }
}
