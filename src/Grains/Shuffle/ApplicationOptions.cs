namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>Application lifecycle settings of the ShuffleGrain (section "Applications").</summary>
public sealed class ApplicationOptions
{
    public const string SectionName = "Applications";

    /// <summary>An application silent this long (no heartbeat, no call) has its data deleted. Default 300 s, as Celeborn.</summary>
    public TimeSpan HeartbeatTtl { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>
    /// Period of each application's expiry reminder (an Orleans reminder, so expiry happens even when
    /// the grain is not active or its silo died). Default 1 min, Orleans' shortest reminder period.
    /// </summary>
    public TimeSpan ExpiryCheckPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Longest wait of one GetReducerFileGroup call for a commit; callers that wait longer call again.
    /// Default 30 s; at most 5 min (the call's response timeout is 6 min).
    /// </summary>
    public TimeSpan MaxCommitWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>PartitionGrain calls one ShuffleGrain has in flight at once while placing, committing or deleting. Default 256.</summary>
    public int MaxPartitionCallsInFlight { get; set; } = 256;

    /// <summary>
    /// The share of the grid's partition slots (the Active silos' healthy slots) one application may
    /// hold in registered shuffles, so one job cannot starve the others: a RegisterShuffle that would
    /// take it past gets QuotaExceeded. Revives (a lost silo, a split) are not refused, so a running
    /// job survives its failures. Default 0.5; 1 turns the quota off.
    /// </summary>
    public double MaxSlotShare { get; set; } = 0.5;

    public IEnumerable<string> Validate()
    {
        if (!(MaxSlotShare > 0 && MaxSlotShare <= 1)) yield return $"{SectionName}:MaxSlotShare must be above 0 and at most 1.";
        if (HeartbeatTtl <= TimeSpan.Zero) yield return $"{SectionName}:HeartbeatTtl must be positive.";
        if (ExpiryCheckPeriod <= TimeSpan.Zero) yield return $"{SectionName}:ExpiryCheckPeriod must be positive.";
        if (MaxCommitWait <= TimeSpan.Zero || MaxCommitWait > TimeSpan.FromMinutes(5)) yield return $"{SectionName}:MaxCommitWait must be positive and at most 5 min.";
        if (MaxPartitionCallsInFlight is < 1 or > 65536) yield return $"{SectionName}:MaxPartitionCallsInFlight must be 1 to 65536.";
    }
}
