namespace Orleans.Shuffle.Job;

/// <summary>The validated settings of one job run (the root command).</summary>
internal sealed record JobOptions
{
    public const int ShuffleId = 0;

    /// <summary>Where the map output goes: through the grid (the default) or to plain files on this machine, the baseline.</summary>
    public ShuffleKind Shuffle { get; init; } = ShuffleKind.Grid;

    /// <summary>Between the stages, sync and drop the page cache (root only), so reducers read from disk (--drop-caches).</summary>
    public bool DropCaches { get; init; }

    public required int Silos { get; init; }

    public required int Maps { get; init; }

    public required int Reduces { get; init; }

    /// <summary>Partitions of the shuffle; partition p is read by reducer p % <see cref="Reduces"/>.</summary>
    public required int Partitions { get; init; }

    public required long Records { get; init; }

    public required int RecordSize { get; init; }

    public required long Seed { get; init; }

    public required double Skew { get; init; }

    /// <summary>What the record values are made of (--values): random bytes, or compressible text.</summary>
    public RecordValues Values { get; init; } = RecordValues.Random;

    /// <summary>How the grid's writers store batches (--compression); the local shuffle writes records as they are.</summary>
    public Orleans.Shuffle.Batches.BatchCodec Compression { get; init; } = Orleans.Shuffle.Batches.BatchCodec.Lz4;

    /// <summary>The grid writers' merged push size in bytes (--merged-push-bytes); null keeps the client's default (64 KiB).</summary>
    public int? MergedPushBytes { get; init; }

    public string? ReportPath { get; init; }

    /// <summary>
    /// The DynamoDB tables (--membership dynamodb) of the local grid's silos, which the driver and
    /// executors then find the silos in. Null: the embedded file store in the work directory.
    /// </summary>
    public DynamoDBSettings? DynamoDB { get; init; }

    /// <summary>A running grid to use (--cluster-id, --grid) instead of starting a local one.</summary>
    public GridAccess? JoinedGrid { get; init; }

    /// <summary>--tls: the local grid and every client talk over TLS with a certificate made for the job (always with DynamoDB silos).</summary>
    public bool Tls { get; init; }

    /// <summary>Where the local shuffle keeps map output: under the work directory, next to where silos keep their disks.</summary>
    public static string LocalShuffleDirectory(string workDirectory) => Path.Combine(workDirectory, "shuffle");

    /// <summary>True when the job starts its own local grid (neither --grid nor --cluster-id).</summary>
    public bool StartsLocalGrid => Shuffle == ShuffleKind.Grid && JoinedGrid is null;

    /// <summary>"file" or "dynamodb", for the report.</summary>
    public string Membership => (JoinedGrid?.DynamoDB ?? DynamoDB) is null ? "file" : "dynamodb";

    /// <summary>Where silo disks, the membership file and logs go; null for a new temp directory.</summary>
    public string? WorkDirectory { get; init; }

    public bool KeepWorkDirectory { get; init; }

    public required string AppId { get; init; }

    /// <summary>Executor processes, started before the first stage and reused by every task.</summary>
    public int Executors { get; init; } = 4;

    /// <summary>Most tasks running at once, over all executors.</summary>
    public required int Concurrency { get; init; }

    public bool NoProgress { get; init; }

    public required TimeSpan TaskTimeout { get; init; }

    public TimeSpan GridReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Copies of each partition the grid keeps: 2 (primary and peer replica) or 1.</summary>
    public int Replicas { get; init; } = 2;

    /// <summary>Extra arguments for every silo process of the local grid (--silo-arg).</summary>
    public IReadOnlyList<string> SiloArguments { get; init; } = [];

    /// <summary>Kill -9 one silo process during the job (--kill-silo); null for none.</summary>
    public SiloKillPlan? KillSilo { get; init; }

    /// <summary>SIGSTOP one silo process during the job, SIGCONT after it (--hang-silo; map:F or reduce:F); null for none.</summary>
    public SiloKillPlan? HangSilo { get; init; }

    /// <summary>Kill -9 the executor of map task <see cref="KillMapperTask"/> after this fraction of its bytes (--kill-mapper); null for none.</summary>
    public double? KillMapper { get; init; }

    public int KillMapperTask { get; init; }

    /// <summary>Most a paused task waits for the driver before it goes on by itself.</summary>
    public TimeSpan MaxPause { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Record payload bytes the maps generate in total.</summary>
    public long TotalBytes => Records * RecordSize;

    /// <summary>The partitions reducer <paramref name="reducerId"/> reads: p % Reduces == reducerId.</summary>
    public IReadOnlyList<int> PartitionsOfReducer(int reducerId)
    {
        var partitions = new List<int>();
        for (int p = reducerId; p < Partitions; p += Reduces) partitions.Add(p);
        return partitions;
    }
}

/// <summary>
/// Where map output goes. <see cref="Grid"/>: pushed to the silos. <see cref="Local"/>: each map writes one
/// data file and an index on this machine's disk and reducers read their segments, as Spark's sort shuffle
/// does without an external shuffle service; the baseline the grid is measured against.
/// </summary>
internal enum ShuffleKind
{
    Grid,
    Local,
}

/// <summary>The command line asked for something impossible; the message says what and how to fix it.</summary>
internal sealed class JobOptionsException(string message) : Exception(message);
