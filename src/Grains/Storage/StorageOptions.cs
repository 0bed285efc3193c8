namespace Orleans.Shuffle.Grains.Storage;

/// <summary>Storage settings of a silo (section "Storage").</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>
    /// Storage directories, one per disk; each gets its own flusher thread. Default: one directory
    /// under the system temp directory, named after the silo.
    /// </summary>
    public List<string> Directories { get; set; } = [];

    /// <summary>
    /// Partition slots per disk. 0 (default) derives it from free space: (free - reserved) / EstimatedPartitionBytes,
    /// at most 65536, like Celeborn's slots-per-disk; a disk with no room above the reserve gets none.
    /// </summary>
    public int SlotsPerDisk { get; set; }

    /// <summary>Expected size of one partition, for deriving slots. Default 64 MiB (Celeborn's initial estimate).</summary>
    public long EstimatedPartitionBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Space kept free on each disk: a disk with less free space takes no new partitions. Default
    /// 5 GiB; lower it for small test disks.
    /// </summary>
    public long ReservedBytesPerDisk { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>Size of each write to a partition file. Default 256 KiB.</summary>
    public int FlushBufferBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// Size of the memory budget's pieces, which flush buffers are chained from: an eighth of
    /// <see cref="FlushBufferBytes"/> (a partition's first buffer), 4 KiB..64 KiB so that no piece
    /// lands on the large object heap. Derived, not configured.
    /// </summary>
    public int BufferPieceBytes => Math.Clamp(FlushBufferBytes / 8, 4096, MemoryBudget.MaxPieceBytes);

    /// <summary>Target size of a read chunk; a chunk holds whole batches. Default 8 MiB.</summary>
    public int ChunkBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// Bytes of pushed data a silo may hold in memory before it stops reading pushes (back-pressure
    /// through TCP); reading resumes below 70 % of it. Default 64 MiB: the page cache, not the silo,
    /// absorbs bursts, and a disk that falls behind should slow the writers rather than grow the
    /// silo (with 1 GiB, a silo's memory rose from about 230 MiB at 1 GiB of data to 1.2 GiB at 4 GiB
    /// and more; bench/README.md, "Silo memory as data grows").
    /// </summary>
    public long MaxBufferedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// A partition file this large asks pushers to move on to a new epoch (a soft split: the old epoch
    /// still accepts pushes in flight). Default 1 GiB; small values are for tests.
    /// </summary>
    public long SplitThresholdBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>
    /// After each write, ask the kernel to start writing those pages to disk without waiting for it
    /// (Linux sync_file_range; elsewhere nothing). Default true. Without it dirty pages pile up in the
    /// page cache until the kernel throttles every writer at once; then pushed data waits in memory,
    /// and the silo's memory follows the data instead of staying small. RocksDB's bytes_per_sync
    /// does the same for the same reason. The pages stay cached for the reducers.
    /// </summary>
    public bool WritebackEachFlush { get; set; } = true;

    /// <summary>
    /// How often each disk is checked (a probe file created, written, fsynced and deleted; free space
    /// against <see cref="ReservedBytesPerDisk"/>). A disk that fails takes no new partitions until a
    /// later check passes. Default 30 s (Celeborn's disk checker runs every 30 s too).
    /// </summary>
    public TimeSpan DiskCheckPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Bytes one application's partition copies may hold on this silo; a push beyond it gets
    /// QuotaExceeded, so one application cannot fill the disks the others need. 0 (default) = half of
    /// the silo's storage: the total size of its disks' file systems (each counted once), measured at
    /// start. Together with Applications:MaxSlotShare it is the application's quota.
    /// </summary>
    public long MaxApplicationBytes { get; set; }

    /// <summary>fsync each partition file on commit. Default false (Celeborn does not either; replicas cover a crash).</summary>
    public bool FsyncOnCommit { get; set; }

    public IEnumerable<string> Validate()
    {
        if (Directories.Count == 0) yield return "Storage:Directories needs at least one directory.";
        if (Directories.Distinct(StringComparer.Ordinal).Count() != Directories.Count) yield return "Storage:Directories lists a directory twice.";
        if (SlotsPerDisk < 0) yield return "Storage:SlotsPerDisk must be >= 0 (0 = derive from free space).";
        if (EstimatedPartitionBytes < 1024 * 1024) yield return "Storage:EstimatedPartitionBytes must be at least 1 MiB.";
        if (ReservedBytesPerDisk < 0) yield return "Storage:ReservedBytesPerDisk must be >= 0.";
        if (MaxApplicationBytes < 0) yield return "Storage:MaxApplicationBytes must be >= 0 (0 = half of the silo's storage).";
        if (FlushBufferBytes is < 4096 or > 64 * 1024 * 1024) yield return "Storage:FlushBufferBytes must be 4 KiB..64 MiB.";
        if (ChunkBytes is < 4096 or > 16 * 1024 * 1024) yield return "Storage:ChunkBytes must be 4 KiB..16 MiB.";
        if (SplitThresholdBytes < 64 * 1024) yield return "Storage:SplitThresholdBytes must be at least 64 KiB.";
        if (DiskCheckPeriod < TimeSpan.FromMilliseconds(100)) yield return "Storage:DiskCheckPeriod must be at least 100 ms.";
        if (MaxBufferedBytes < 4L * FlushBufferBytes) yield return "Storage:MaxBufferedBytes must hold at least 4 flush buffers.";
    }
}
