using Orleans.Shuffle.Grains.Partition;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// One storage directory (a disk): its partition slots, its flusher, and where partition files go:
/// {root}/{appId}/shuffle-{shuffleId}/{partitionId}-{epoch}.data. Application ids are validated
/// before they get here, so a path can never leave the root.
/// </summary>
public sealed class StorageDirectory : IDisposable
{
    private int _usedSlots;

    public StorageDirectory(string root, int totalSlots)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
        TotalSlots = totalSlots;
        Flusher = new DiskFlusher(Path.GetFileName(Root));
    }

    public string Root { get; }

    public int TotalSlots { get; }

    public int UsedSlots => Volatile.Read(ref _usedSlots);

    public int FreeSlots => Healthy ? Math.Max(0, TotalSlots - UsedSlots) : 0;

    /// <summary>False once a write to this disk failed: it takes no new partitions, and the silo advertises fewer slots.</summary>
    public bool Healthy => !_failed && Flusher.Failures == 0;

    private volatile bool _failed;

    public DiskFlusher Flusher { get; }

    public void MarkFailed() => _failed = true;

    public bool TryReserveSlot()
    {
        while (true)
        {
            int used = Volatile.Read(ref _usedSlots);
            if (!Healthy || used >= TotalSlots) return false;
            if (Interlocked.CompareExchange(ref _usedSlots, used + 1, used) == used) return true;
        }
    }

    public void ReleaseSlot() => Interlocked.Decrement(ref _usedSlots);

    public string AppDirectory(string appId) => Path.Combine(Root, appId);

    public string ShuffleDirectory(string appId, int shuffleId) => Path.Combine(Root, appId, $"shuffle-{shuffleId}");

    public string PartitionPath(in PartitionKey key) => Path.Combine(ShuffleDirectory(key.AppId, key.ShuffleId), $"{key.PartitionId}-{key.Epoch}.data");

    /// <summary>
    /// Deletes the partition files an earlier incarnation of the silo left in <paramref name="root"/>
    /// (it was killed, so it could not delete them): a silo never takes a file of another incarnation
    /// up, so they would only hold space. Only the partition layout is touched; returns the files deleted.
    /// </summary>
    public static int DeleteLeftovers(string root)
    {
        if (!Directory.Exists(root)) return 0;
        int deleted = 0;
        foreach (string shuffle in Directory.EnumerateDirectories(root).SelectMany(app => Directory.EnumerateDirectories(app, "shuffle-*")).ToList())
        {
            foreach (string file in Directory.EnumerateFiles(shuffle, "*-*.data"))
            {
                File.Delete(file);
                deleted++;
            }
            DeleteIfEmpty(shuffle);
            DeleteIfEmpty(Path.GetDirectoryName(shuffle)!);
        }
        return deleted;
    }

    private static void DeleteIfEmpty(string directory)
    {
        if (!Directory.EnumerateFileSystemEntries(directory).Any()) Directory.Delete(directory);
    }

    /// <summary>Slots a disk gets when none are configured: free space less the reserve, over the expected partition size.</summary>
    public static int DeriveSlots(string root, StorageOptions options)
    {
        if (options.SlotsPerDisk > 0) return options.SlotsPerDisk;
        Directory.CreateDirectory(root);
        long free = new DriveInfo(Path.GetFullPath(root)).AvailableFreeSpace - options.ReservedBytesPerDisk;
        return (int)Math.Clamp(free / options.EstimatedPartitionBytes, 16, 65536);
    }

    public void Dispose() => Flusher.Dispose();
}
