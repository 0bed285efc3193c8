using Orleans.Shuffle.Grains.Partition;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// One storage directory (a disk): its partition slots, its flusher, its health, and where partition
/// files go: {root}/{appId}/shuffle-{shuffleId}/{partitionId}-{epoch}.data. Application ids are
/// validated before they get here, so a path can never leave the root.
/// <para>
/// A disk takes new partitions only while it has no <see cref="Problem"/>: a failed probe (see
/// <see cref="DiskProbe"/>), free space below the reserve, or a write or fsync that failed since
/// the last check. <see cref="Check"/> (at start-up, then every <see cref="StorageOptions.DiskCheckPeriod"/>)
/// sets or clears it, so a disk that failed once comes back when it works again, like Celeborn's
/// disk checker.
/// </para>
/// </summary>
public sealed class StorageDirectory : IDisposable
{
    /// <summary>How long a check may take before the disk is left out as hung (a device blocking in fsync).</summary>
    public static readonly TimeSpan CheckLimit = TimeSpan.FromSeconds(10);

    private readonly StorageOptions _options;
    private readonly Lock _checkLock = new();
    private Task<string?>? _check;
    private int _usedSlots;
    private int _totalSlots;
    private long _diskErrors;
    private volatile string? _problem;

    /// <summary>Probes the directory at once (<see cref="CheckWithinAsync"/>); a disk that fails it is kept, with its problem, and takes no partitions.</summary>
    public StorageDirectory(string root, StorageOptions options)
    {
        _options = options;
        Root = Path.GetFullPath(root);
        Flusher = new DiskFlusher(Path.GetFileName(Root), MarkFailed);
        // Waited for here: the catalog is made once, at start-up, before the silo serves anything.
        CheckWithinAsync(CheckLimit).GetAwaiter().GetResult();
    }

    public string Root { get; }

    /// <summary>Slots from configuration, or derived from the free space the first check found above the reserve.</summary>
    public int TotalSlots => Volatile.Read(ref _totalSlots);

    public int UsedSlots => Volatile.Read(ref _usedSlots);

    public int FreeSlots => Healthy ? Math.Max(0, TotalSlots - UsedSlots) : 0;

    /// <summary>Why the disk takes no new partitions now; null when it does. Partitions on it stay readable.</summary>
    public string? Problem => _problem;

    public bool Healthy => _problem is null;

    /// <summary>Writes and fsyncs that failed with an I/O error, since start.</summary>
    public long DiskErrors => Interlocked.Read(ref _diskErrors);

    public DiskFlusher Flusher { get; }

    /// <summary>A write or fsync to this disk failed: it takes no new partitions until a check passes.</summary>
    public void MarkFailed(Exception error)
    {
        Interlocked.Increment(ref _diskErrors);
        _problem = $"a write failed: {error.Message}";
    }

    /// <summary>
    /// Probes the disk and compares its free space with the reserve; sets or clears <see cref="Problem"/>.
    /// Returns the problem (null when healthy).
    /// </summary>
    public string? Check()
    {
        // A write that fails while the probe runs is newer news than the probe's success.
        long errorsBefore = DiskErrors;
        string? problem = DiskProbe.Run(Root);
        if (problem is null)
        {
            long available = DiskProbe.AvailableBytes(Root);
            if (available < _options.ReservedBytesPerDisk)
                problem = $"{available:N0} bytes free, below the reserve of {_options.ReservedBytesPerDisk:N0} (Storage:ReservedBytesPerDisk)";
            // Derived once, from the first check that found room: later checks see the space our own files took.
            else if (TotalSlots == 0) Volatile.Write(ref _totalSlots, DeriveSlots(available, _options));
        }
        if (problem is null && DiskErrors != errorsBefore) return _problem;
        _problem = problem;
        return problem;
    }

    /// <summary>
    /// <see cref="Check"/>, bounded by <paramref name="limit"/>: a probe still running then leaves the
    /// disk out ("did not finish") and goes on in the background; no second probe starts while it
    /// runs, and the disk comes back when it finishes well.
    /// </summary>
    public async Task<string?> CheckWithinAsync(TimeSpan limit)
    {
        Task<string?> check;
        lock (_checkLock)
        {
            if (_check is not { IsCompleted: false }) _check = Task.Run(Check);
            check = _check;
        }
        try
        {
            return await check.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            string problem = $"its check (create, write, fsync, delete a file) did not finish within {limit.TotalSeconds:0.#} s";
            _problem = problem;
            return problem;
        }
    }

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
    /// up, so they would only hold space. Only the partition layout is touched; returns the files
    /// deleted. A directory that cannot be read is left to the probe to report.
    /// </summary>
    public static int DeleteLeftovers(string root)
    {
        int deleted = 0;
        try
        {
            if (!Directory.Exists(root)) return 0;
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
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Reported by the probe that follows; what was deleted so far stays deleted.
        }
        return deleted;
    }

    private static void DeleteIfEmpty(string directory)
    {
        if (!Directory.EnumerateFileSystemEntries(directory).Any()) Directory.Delete(directory);
    }

    /// <summary>Slots a disk gets when none are configured: free space above the reserve over the expected partition size (0 when there is none).</summary>
    public static int DeriveSlots(long availableBytes, StorageOptions options)
    {
        if (options.SlotsPerDisk > 0) return options.SlotsPerDisk;
        long room = availableBytes - options.ReservedBytesPerDisk;
        return (int)Math.Clamp(room / options.EstimatedPartitionBytes, 0, 65536);
    }

    public void Dispose() => Flusher.Dispose();
}
