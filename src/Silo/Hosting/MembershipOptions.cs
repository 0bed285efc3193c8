using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>Membership settings (section "Membership"), named after Orleans' ClusterMembershipOptions.</summary>
public sealed class MembershipOptions
{
    public const string SectionName = "Membership";

    public const string FileProvider = "File";

    public const string DynamoDBProvider = "DynamoDB";

    /// <summary>
    /// "File" (default): the embedded table, a JSON file shared by the silos of one machine.
    /// "DynamoDB": a DynamoDB table (Orleans.Clustering.DynamoDB's schema), settings in <see cref="DynamoDB"/>.
    /// Case-insensitive; command line: --membership file|dynamodb.
    /// </summary>
    public string Provider { get; set; } = FileProvider;

    /// <summary>Settings of the DynamoDB provider (section "Membership:DynamoDB"); Service is required with it (--dynamodb-service).</summary>
    public DynamoDBClusteringOptions DynamoDB { get; set; } = new();

    public bool UsesDynamoDB => string.Equals(Provider, DynamoDBProvider, StringComparison.OrdinalIgnoreCase);

    /// <summary>Path of the embedded table. Default {temp}/orleans-shuffle/{clusterId}/membership.json.</summary>
    public string FilePath { get; set; } = "";

    /// <summary>Path of the embedded grain directory. Default: grain-directory.json beside the membership file.</summary>
    public string GrainDirectoryPath { get; set; } = "";

    /// <summary>Directory of the embedded grain storage (ShuffleGrain state). Default: grain-state beside the membership file.</summary>
    public string GrainStoragePath { get; set; } = "";

    /// <summary>How often a silo writes its IAmAlive column. Default 5 s (Orleans: 30 s; the file table is cheap).</summary>
    public TimeSpan IAmAlivePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a silo re-reads the table. Default 2 s (Orleans: 60 s, with gossip in between).</summary>
    public TimeSpan TableRefreshPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>IAmAlive writes a silo may miss before others suspect it. Default 3, as in Orleans.</summary>
    public int NumMissedTableIAmAliveLimit { get; set; } = 3;

    /// <summary>Votes that declare a silo dead (fewer when few silos are active). Default 2, as in Orleans.</summary>
    public int NumVotesForDeathDeclaration { get; set; } = 2;

    /// <summary>How often a silo probes (pings) each of the silos it monitors. Default 1 s.</summary>
    public TimeSpan ProbePeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A probe not answered within this is missed. Default 2 s.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Consecutive missed probes before a silo votes the target suspect. Default 3, as in Orleans.</summary>
    public int NumMissedProbesLimit { get; set; } = 3;

    /// <summary>How many other silos each silo probes (its successors in identity order). Default 10, as in Orleans.</summary>
    public int NumProbedSilos { get; set; } = 10;

    /// <summary>A suspicion vote older than this no longer counts. Default 2 min, as in Orleans.</summary>
    public TimeSpan DeathVoteExpirationTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Rows not Active and silent this long are deleted. Default 7 days, as in Orleans.</summary>
    public TimeSpan DefunctSiloExpiration { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often defunct rows are cleaned. Default 1 h, as in Orleans.</summary>
    public TimeSpan DefunctSiloCleanupPeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long after its last IAmAlive a silo counts as stale.</summary>
    public TimeSpan StaleAfter => IAmAlivePeriod * NumMissedTableIAmAliveLimit;

    /// <summary>The membership table of <paramref name="clusterId"/> that <see cref="Provider"/> names.</summary>
    public IMembershipTable CreateTable(string clusterId) => UsesDynamoDB
        ? new DynamoDBMembershipTable(DynamoDB, clusterId)
        : new FileMembershipTable(FilePath, clusterId);

    public IEnumerable<string> Validate()
    {
        if (UsesDynamoDB)
        {
            if (string.IsNullOrWhiteSpace(DynamoDB.Service))
            {
                yield return "Membership:Provider DynamoDB needs Membership:DynamoDB:Service (--dynamodb-service): an AWS region name such as us-east-1, " +
                             "or the URL of a DynamoDB endpoint such as http://localhost:8000 for DynamoDB Local.";
            }
            foreach (string failure in DynamoDB.Validate($"{SectionName}:DynamoDB"))
            {
                if (!failure.StartsWith($"{SectionName}:DynamoDB:Service is not set", StringComparison.Ordinal)) yield return failure;
            }
        }
        else if (!string.Equals(Provider, FileProvider, StringComparison.OrdinalIgnoreCase))
        {
            yield return $"Membership:Provider '{Provider}' is not known: use 'File' (one machine) or 'DynamoDB' (--membership file|dynamodb).";
        }
        if (IAmAlivePeriod <= TimeSpan.Zero) yield return "Membership:IAmAlivePeriod must be positive.";
        if (TableRefreshPeriod <= TimeSpan.Zero) yield return "Membership:TableRefreshPeriod must be positive.";
        if (NumMissedTableIAmAliveLimit < 1) yield return "Membership:NumMissedTableIAmAliveLimit must be >= 1.";
        if (NumVotesForDeathDeclaration < 1) yield return "Membership:NumVotesForDeathDeclaration must be >= 1.";
        if (ProbePeriod <= TimeSpan.Zero || ProbeTimeout <= TimeSpan.Zero) yield return "Membership:ProbePeriod and ProbeTimeout must be positive.";
        if (NumMissedProbesLimit < 1 || NumProbedSilos < 1) yield return "Membership:NumMissedProbesLimit and NumProbedSilos must be >= 1.";
    }
}
