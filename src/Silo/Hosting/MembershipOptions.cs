using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Shuffle.GrainDirectory;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Persistence;

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

    /// <summary>
    /// Settings of the DynamoDB provider (section "Membership:DynamoDB"); Service is required with it (--dynamodb-service).
    /// With it the grain directory and the grain storage are DynamoDB tables too, in the same Service
    /// (sections "Membership:DynamoDB:GrainDirectory" and "Membership:DynamoDB:GrainStorage").
    /// </summary>
    public DynamoDBClusteringOptions DynamoDB { get; set; } = new();

    public bool UsesDynamoDB => string.Equals(Provider, DynamoDBProvider, StringComparison.OrdinalIgnoreCase);

    /// <summary>Path of the embedded table. Default {temp}/orleans-shuffle/{clusterId}/membership.json.</summary>
    public string FilePath { get; set; } = "";

    /// <summary>Path of the embedded grain directory (the File provider's). Default: grain-directory.json beside the membership file.</summary>
    public string GrainDirectoryPath { get; set; } = "";

    /// <summary>Directory of the embedded grain storage (ShuffleGrain state; the File provider's). Default: grain-state beside the membership file.</summary>
    public string GrainStoragePath { get; set; } = "";

    /// <summary>IAmAlive period with the DynamoDB provider unless set: Orleans' 30 s.</summary>
    public static readonly TimeSpan DynamoDBIAmAlivePeriod = TimeSpan.FromSeconds(30);

    /// <summary>Table refresh period with the DynamoDB provider unless set: Orleans' 60 s.</summary>
    public static readonly TimeSpan DynamoDBTableRefreshPeriod = TimeSpan.FromSeconds(60);

    /// <summary>How often a silo writes its IAmAlive column. Default 5 s with the file table, 30 s with DynamoDB (Orleans' value).</summary>
    public TimeSpan IAmAlivePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a silo re-reads the table; gossip from peers that wrote it triggers a read at once. Default 2 s with the file table, 60 s with DynamoDB (Orleans' value).</summary>
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

    /// <summary>The grain directory that goes with <see cref="Provider"/>: the DynamoDB table, or the embedded file.</summary>
    public IGrainDirectory CreateGrainDirectory(string clusterId) => UsesDynamoDB
        ? new DynamoDBGrainDirectory(DynamoDB, clusterId)
        : new FileGrainDirectory(GrainDirectoryPath);

    /// <summary>The grain storage that goes with <see cref="Provider"/>: the DynamoDB table, or the embedded files.</summary>
    public IGrainStorage CreateGrainStorage(string clusterId) => UsesDynamoDB
        ? new DynamoDBGrainStorage(DynamoDB, clusterId)
        : new FileGrainStorage(GrainStoragePath);

    /// <summary>
    /// Registers the grain directory and grain storage of <see cref="Provider"/>, and, for DynamoDB, a
    /// start-up step that creates or checks their tables: registered before the silo's endpoints and
    /// membership, it fails the start (InvalidOperationException, exit code 3) with a message saying
    /// what to fix before the silo joins.
    /// </summary>
    public void AddGrainDirectoryAndStorage(IServiceCollection services, string clusterId)
    {
        services.AddSingleton(_ => CreateGrainDirectory(clusterId));
        services.AddSingleton(_ => CreateGrainStorage(clusterId));
        if (UsesDynamoDB)
        {
            services.AddHostedService(sp => new GrainTablesStartup(sp.GetRequiredService<IGrainDirectory>(), sp.GetRequiredService<IGrainStorage>()));
        }
    }

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

/// <summary>Creates or checks the DynamoDB grain directory and grain storage tables when the silo starts.</summary>
internal sealed class GrainTablesStartup(IGrainDirectory directory, IGrainStorage storage) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // One after the other, so a failure names one table.
        if (directory is DynamoDBGrainDirectory dynamoDirectory) await dynamoDirectory.InitializeAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (storage is DynamoDBGrainStorage dynamoStorage) await dynamoStorage.InitializeAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
