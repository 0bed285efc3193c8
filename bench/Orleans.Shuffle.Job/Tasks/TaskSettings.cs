namespace Orleans.Shuffle.Job.Tasks;

/// <summary>Everything one map task needs; it travels to an executor as JSON.</summary>
internal sealed record MapTaskSettings(
    string AppId, int ShuffleId, int NumPartitions, int MapId, int AttemptId, long Records, int RecordSize, long Seed, double Skew)
{
    public PauseSettings Pause { get; init; } = PauseSettings.None;

    /// <summary>What the values of the generated records are made of.</summary>
    public RecordValues Values { get; init; } = RecordValues.Random;

    /// <summary>With --shuffle local, where the map writes its files; null on the grid.</summary>
    public LocalShuffleSettings? Local { get; init; }

    /// <summary>The application's secret (base64), as Spark hands its executors the application's credentials: over the executor's stdin, never a command line.</summary>
    public string? AppSecret { get; init; }
}

/// <summary>Everything one reduce task needs.</summary>
internal sealed record ReduceTaskSettings(string AppId, int ShuffleId, int ReducerId, IReadOnlyList<int> Partitions)
{
    public PauseSettings Pause { get; init; } = PauseSettings.None;

    /// <summary>With --shuffle local, where the maps wrote and which attempt of each won; null on the grid.</summary>
    public LocalShuffleSettings? Local { get; init; }

    /// <summary>The application's secret (base64); see <see cref="MapTaskSettings.AppSecret"/>.</summary>
    public string? AppSecret { get; init; }
}

/// <summary>
/// The local shuffle's directory and, for a reducer, the winning attempt of every map (index = map id),
/// which the driver learned from the maps' results: the reducer reads those attempts' files and no others.
/// </summary>
internal sealed record LocalShuffleSettings(string Directory, IReadOnlyList<int>? WinningAttempts = null);

/// <summary>Where a task pauses for a fault (see <see cref="PausePoint"/>); <see cref="None"/> for never.</summary>
internal sealed record PauseSettings(long? AtBytes, string? ResumeFile, TimeSpan MaxWait)
{
    public static PauseSettings None { get; } = new(null, null, TimeSpan.FromSeconds(120));

    public PausePoint ToPausePoint() => new(AtBytes, ResumeFile, MaxWait);
}

/// <summary>One task for an executor: an id unique within the job (e.g. "map-3-attempt-1"), and either a map or a reduce.</summary>
internal sealed record ExecutorTask(string Id, MapTaskSettings? Map = null, ReduceTaskSettings? Reduce = null);
