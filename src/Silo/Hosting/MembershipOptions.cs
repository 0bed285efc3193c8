namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>Membership settings (section "Membership"), named after Orleans' ClusterMembershipOptions.</summary>
public sealed class MembershipOptions
{
    public const string SectionName = "Membership";

    /// <summary>"File" (default): the embedded table, a JSON file shared by the silos of one machine.</summary>
    public string Provider { get; set; } = "File";

    /// <summary>Path of the embedded table. Default {temp}/orleans-shuffle/{clusterId}/membership.json.</summary>
    public string FilePath { get; set; } = "";

    /// <summary>Path of the embedded grain directory. Default: grain-directory.json beside the membership file.</summary>
    public string GrainDirectoryPath { get; set; } = "";

    /// <summary>How often a silo writes its IAmAlive column. Default 5 s (Orleans: 30 s; the file table is cheap).</summary>
    public TimeSpan IAmAlivePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a silo re-reads the table. Default 2 s (Orleans: 60 s, with gossip in between).</summary>
    public TimeSpan TableRefreshPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>IAmAlive writes a silo may miss before others suspect it. Default 3, as in Orleans.</summary>
    public int NumMissedTableIAmAliveLimit { get; set; } = 3;

    /// <summary>Votes that declare a silo dead (fewer when few silos are active). Default 2, as in Orleans.</summary>
    public int NumVotesForDeathDeclaration { get; set; } = 2;

    /// <summary>A suspicion vote older than this no longer counts. Default 2 min, as in Orleans.</summary>
    public TimeSpan DeathVoteExpirationTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Rows not Active and silent this long are deleted. Default 7 days, as in Orleans.</summary>
    public TimeSpan DefunctSiloExpiration { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often defunct rows are cleaned. Default 1 h, as in Orleans.</summary>
    public TimeSpan DefunctSiloCleanupPeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long after its last IAmAlive a silo counts as stale.</summary>
    public TimeSpan StaleAfter => IAmAlivePeriod * NumMissedTableIAmAliveLimit;

    public IEnumerable<string> Validate()
    {
        if (!string.Equals(Provider, "File", StringComparison.OrdinalIgnoreCase))
            yield return $"Membership:Provider '{Provider}' is not known; this build has 'File'.";
        if (IAmAlivePeriod <= TimeSpan.Zero) yield return "Membership:IAmAlivePeriod must be positive.";
        if (TableRefreshPeriod <= TimeSpan.Zero) yield return "Membership:TableRefreshPeriod must be positive.";
        if (NumMissedTableIAmAliveLimit < 1) yield return "Membership:NumMissedTableIAmAliveLimit must be >= 1.";
        if (NumVotesForDeathDeclaration < 1) yield return "Membership:NumVotesForDeathDeclaration must be >= 1.";
    }
}
