namespace Orleans.Shuffle.Job;

/// <summary>The validated settings of one job run (the root command).</summary>
internal sealed record JobOptions
{
    public const int ShuffleId = 0;

    public required int Silos { get; init; }

    public required int Maps { get; init; }

    public required int Reduces { get; init; }

    /// <summary>Partitions of the shuffle; partition p is read by reducer p % <see cref="Reduces"/>.</summary>
    public required int Partitions { get; init; }

    public required long Records { get; init; }

    public required int RecordSize { get; init; }

    public required long Seed { get; init; }

    public required double Skew { get; init; }

    public string? ReportPath { get; init; }

    /// <summary>Gateways of an already running grid (--grid); null to start a local one or to join <see cref="ClusterId"/>.</summary>
    public IReadOnlyList<string>? Grid { get; init; }

    /// <summary>
    /// The DynamoDB membership table (--membership dynamodb): the local grid's silos use it, and the
    /// driver and workers read the Active silos from it instead of being handed gateways. Null: the
    /// embedded file table, and gateways on the command line (as before).
    /// </summary>
    public DynamoDBSettings? DynamoDB { get; init; }

    /// <summary>With <see cref="DynamoDB"/>: join the running grid of this cluster id (--cluster-id) instead of starting one.</summary>
    public string? ClusterId { get; init; }

    /// <summary>True when the job starts its own local grid (neither --grid nor --cluster-id).</summary>
    public bool StartsLocalGrid => Grid is null && ClusterId is null;

    /// <summary>"file" or "dynamodb", for the report.</summary>
    public string Membership => DynamoDB is null ? "file" : "dynamodb";

    /// <summary>Where silo disks, the membership file and logs go; null for a new temp directory.</summary>
    public string? WorkDirectory { get; init; }

    public bool KeepWorkDirectory { get; init; }

    public required string AppId { get; init; }

    /// <summary>Most worker processes running at once.</summary>
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

    /// <summary>Kill -9 map task <see cref="KillMapperTask"/> after this fraction of its bytes (--kill-mapper); null for none.</summary>
    public double? KillMapper { get; init; }

    public int KillMapperTask { get; init; }

    /// <summary>Most a paused worker waits for the driver before it goes on by itself.</summary>
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

/// <summary>The command line asked for something impossible; the message says what and how to fix it.</summary>
internal sealed class JobOptionsException(string message) : Exception(message);
