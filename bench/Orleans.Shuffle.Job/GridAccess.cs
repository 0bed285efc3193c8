using Orleans.Shuffle.Client;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;

namespace Orleans.Shuffle.Job;

/// <summary>The job's DynamoDB membership settings (--dynamodb-service, --dynamodb-table), for its silos and its clients alike.</summary>
internal sealed record DynamoDBSettings(string Service, string? TableName = null)
{
    public string Table => TableName ?? DynamoDBClusteringOptions.DefaultTableName;

    public DynamoDBClusteringOptions ToOptions() => new() { Service = Service, TableName = Table };

    /// <summary>Every problem of the settings, named by the job's own flags.</summary>
    public IEnumerable<string> Validate() => ToOptions().Validate("DynamoDB").Select(problem => problem
        .Replace("DynamoDB:Service", "--dynamodb-service", StringComparison.Ordinal)
        .Replace("DynamoDB:TableName", "--dynamodb-table", StringComparison.Ordinal));

    /// <summary>What a silo of a local grid needs on its command line to use this table (and the grain tables beside it).</summary>
    public IReadOnlyList<string> SiloArguments()
    {
        var args = new List<string> { "--membership", "dynamodb", "--dynamodb-service", Service };
        if (TableName is not null) args.Add("--Membership:DynamoDB:TableName=" + TableName);
        return args;
    }

    public override string ToString() => $"DynamoDB table {Table} at {ToOptions().Where}";
}

/// <summary>
/// How a process of the job (driver or worker) finds the grid: fixed gateways (--grid, or the silos a
/// file-membership local grid announced), or the Active rows of a cluster id in a DynamoDB membership
/// table, read when the client connects, every minute, and whenever no known silo answers.
/// </summary>
internal sealed record GridAccess
{
    private GridAccess(IReadOnlyList<string> gateways, DynamoDBSettings? dynamoDB, string? clusterId)
    {
        Gateways = gateways;
        DynamoDB = dynamoDB;
        ClusterId = clusterId;
    }

    /// <summary>Fixed gateways; empty with DynamoDB.</summary>
    public IReadOnlyList<string> Gateways { get; }

    /// <summary>The membership table to read gateways from; null for fixed gateways.</summary>
    public DynamoDBSettings? DynamoDB { get; }

    /// <summary>The cluster id whose rows list the gateways; null for fixed gateways.</summary>
    public string? ClusterId { get; }

    public static GridAccess ByGateways(IReadOnlyList<string> gateways)
    {
        if (gateways.Count == 0) throw new ArgumentException("No gateway.", nameof(gateways));
        return new GridAccess(gateways, null, null);
    }

    public static GridAccess ByDynamoDB(DynamoDBSettings dynamoDB, string clusterId)
    {
        ArgumentNullException.ThrowIfNull(dynamoDB);
        ArgumentException.ThrowIfNullOrWhiteSpace(clusterId);
        return new GridAccess([], dynamoDB, clusterId);
    }

    public override string ToString() => DynamoDB is null ? GridEndpoints.Format(Gateways) : $"cluster {ClusterId} in the {DynamoDB}";

    /// <summary>Connects a client; disposing the result disposes the client and then the table it read gateways from.</summary>
    public async Task<JobGridClient> ConnectAsync(string clientName, int replicas, CancellationToken ct)
    {
        var options = new GridClientOptions { Gateways = [.. Gateways], ClientName = clientName, Replicas = replicas };
        DynamoDBMembershipTable? table = null;
        if (DynamoDB is not null)
        {
            table = new DynamoDBMembershipTable(DynamoDB.ToOptions(), ClusterId!);
            options.GatewayListProvider = new MembershipTableGatewayListProvider(table);
        }
        try
        {
            return new JobGridClient(await GridClient.ConnectAsync(options, ct).ConfigureAwait(false), table);
        }
        catch
        {
            table?.Dispose();
            throw;
        }
    }
}

/// <summary>A connected client and the membership table (if any) its gateway list comes from.</summary>
internal sealed class JobGridClient(GridClient client, IDisposable? table) : IAsyncDisposable
{
    public GridClient Client { get; } = client;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        table?.Dispose();
    }
}
