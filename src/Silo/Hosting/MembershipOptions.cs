namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// Where the silo keeps the cluster's control-plane state (section "Membership"): the membership
/// table, the ShuffleGrains' state and the reminder table, all three on one provider. The same
/// section also binds Orleans' ClusterMembershipOptions (ProbeTimeout, NumMissedProbesLimit,
/// NumVotesForDeathDeclaration, DefunctSiloExpiration, ...).
/// </summary>
public sealed class MembershipOptions
{
    public const string SectionName = "Membership";

    public const string FileProvider = "File";

    public const string DynamoDBProvider = "DynamoDB";

    /// <summary>
    /// "File" (default): the embedded stores, files in <see cref="Directory"/> shared by the silos of
    /// one machine; no setup, and no silo is special, so any silo may die. "DynamoDB": DynamoDB tables
    /// with the schemas of Orleans' official DynamoDB providers (settings in <see cref="DynamoDB"/>).
    /// Case-insensitive; command line --membership file|dynamodb.
    /// </summary>
    public string Provider { get; set; } = FileProvider;

    /// <summary>Directory of the embedded stores. Default {temp}/orleans-shuffle/{cluster id}; command line --membership-dir.</summary>
    public string Directory { get; set; } = "";

    /// <summary>The DynamoDB provider's settings (section "Membership:DynamoDB").</summary>
    public DynamoDBSettings DynamoDB { get; set; } = new();

    /// <summary>
    /// Orleans' probe period and timeout unless set: 3 s (Orleans' own default is 5 s, its least 2.5 s),
    /// so a killed silo is voted dead in about 7 s (6.8-7.9 s measured, scripts/measure-dynamodb-membership.sh).
    /// </summary>
    public static readonly TimeSpan DefaultProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Orleans' IAmAlive period unless set: 10 s (Orleans' default is 30 s). A row is stale after three
    /// missed periods, and only then do joining silos probe it and vote it Dead; so after a full restart
    /// the new silos are Active in 39 s instead of 98 (measured, scripts/measure-dynamodb-membership.sh). It costs three
    /// IAmAlive writes per silo every 30 s instead of one.
    /// </summary>
    public static readonly TimeSpan DefaultIAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Orleans' connection liveness check unless set: off. With it, a silo that misses its probes is
    /// not voted on while its connection received any message within the failure-detection window
    /// (a minute here): a hung silo (SIGSTOP, a stuck process whose sockets still accept) stayed
    /// Active for 60 s, and every grain call and placement that picked it waited that long (measured
    /// with the job's --hang-silo, 2026-12-04: "Suppressing vote ... within the 00:01:00 monitoring
    /// window"). Without it, the silos vote after NumMissedProbesLimit missed probes.
    /// </summary>
    public const bool DefaultEnableConnectionLivenessCheck = false;

    public bool UsesDynamoDB => string.Equals(Provider, DynamoDBProvider, StringComparison.OrdinalIgnoreCase);

    public IEnumerable<string> Validate()
    {
        if (UsesDynamoDB)
        {
            foreach (string failure in DynamoDB.Validate($"{SectionName}:DynamoDB")) yield return failure;
        }
        else if (!string.Equals(Provider, FileProvider, StringComparison.OrdinalIgnoreCase))
        {
            yield return $"{SectionName}:Provider '{Provider}' is not known: use 'File' (one machine) or 'DynamoDB' (--membership file|dynamodb).";
        }
    }
}
