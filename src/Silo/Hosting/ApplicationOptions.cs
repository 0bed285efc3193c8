namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>Application lifecycle settings (section "Applications").</summary>
public sealed class ApplicationOptions
{
    public const string SectionName = "Applications";

    /// <summary>An application silent this long (no heartbeat, no call) has its data deleted. Default 300 s, as Celeborn.</summary>
    public TimeSpan HeartbeatTtl { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>How often silos look for lapsed applications. Default 10 s.</summary>
    public TimeSpan ExpiryCheckPeriod { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<string> Validate()
    {
        if (HeartbeatTtl <= TimeSpan.Zero) yield return "Applications:HeartbeatTtl must be positive.";
        if (ExpiryCheckPeriod <= TimeSpan.Zero) yield return "Applications:ExpiryCheckPeriod must be positive.";
    }
}
