using System.Net;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Clustering.DynamoDB;

/// <summary>
/// The gateways of a cluster, read by a client from the DynamoDB membership table: every Active row
/// with a gateway (proxy) port, as "gwy.tcp://{ip}:{proxyPort}/{generation}". It only reads (one Query
/// of the cluster's hash key per call; dynamodb:Query is all a client needs) and never creates the table.
/// </summary>
public sealed partial class DynamoDBGatewayListProvider : IGatewayListProvider, IDisposable
{
    private readonly DynamoDBTableClient _table;
    private readonly DynamoDBClusteringOptions _options;

    /// <summary>The gateways of Orleans' cluster id, with a client of its own made from the options (how a client gets it).</summary>
    [ActivatorUtilitiesConstructor]
    public DynamoDBGatewayListProvider(
        IOptions<DynamoDBClusteringOptions> options, IOptions<ClusterOptions> cluster, IOptions<GatewayOptions> gateway, ILogger<DynamoDBGatewayListProvider> logger)
        : this(DynamoDBTableClient.Create(options.Value, MembershipTableDefinition.For(options.Value), logger, time: null), options.Value, cluster.Value.ClusterId, gateway.Value.GatewayListRefreshPeriod)
    {
    }

    /// <summary>The gateways of <paramref name="clusterId"/> over <paramref name="client"/>, which the caller keeps and disposes.</summary>
    public DynamoDBGatewayListProvider(
        IAmazonDynamoDB client, DynamoDBClusteringOptions options, string clusterId, TimeSpan maxStaleness, ILogger<DynamoDBGatewayListProvider>? logger = null)
        : this(DynamoDBTableClient.Over(client, options, MembershipTableDefinition.For(options), logger, time: null), options, clusterId, maxStaleness)
    {
    }

    private DynamoDBGatewayListProvider(DynamoDBTableClient table, DynamoDBClusteringOptions options, string clusterId, TimeSpan maxStaleness)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        _table = table;
        _options = options;
        ClusterId = clusterId;
        MaxStaleness = maxStaleness;
    }

    public string ClusterId { get; }

    /// <summary>Orleans' GatewayOptions.GatewayListRefreshPeriod: how often the client asks again.</summary>
    public TimeSpan MaxStaleness { get; }

    public bool IsUpdatable => true;

    /// <summary>Requests this provider has sent.</summary>
    public DynamoDBRequestCounts Requests => _table.Requests;

    /// <summary>
    /// Reads the cluster's gateways once, so a missing table, an unreachable endpoint or missing
    /// permissions stop the client at start-up with an <see cref="InvalidOperationException"/> that says what to fix.
    /// </summary>
    public async Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var gateways = await GetGatewaysAsync(cancellationToken).ConfigureAwait(false);
            LogGatewaysFound(_table.Logger, gateways.Count, ClusterId, _options.TableName);
        }
        catch (Exception e) when (DynamoDBStartupErrors.IsAwsOrNetworkFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(Explain(e), e);
        }
    }

    public async Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken = default)
    {
        var x = new DynamoDBExpression();
        var query = new QueryRequest
        {
            ConsistentRead = true,
            KeyConditionExpression = $"{x.Name(SiloInstanceItem.DeploymentId)} = {x.Value(ClusterId)}",
            FilterExpression = $"{x.Name(SiloInstanceItem.Status)} = {x.Value((int)SiloStatus.Active)} AND {x.Name(SiloInstanceItem.ProxyPort)} > {x.Value(0)}",
            ProjectionExpression = string.Join(", ", new[] { SiloInstanceItem.Address, SiloInstanceItem.ProxyPort, SiloInstanceItem.Generation }.Select(x.Name)),
        };
        query.ExpressionAttributeNames = x.NamesOrNull;
        query.ExpressionAttributeValues = x.ValuesOrNull;
        var gateways = new List<Uri>();
        await _table.QueryAllAsync(query, item =>
        {
            if (IPAddress.TryParse(DynamoDBValues.GetString(item, SiloInstanceItem.Address, ""), out var address))
            {
                int port = checked((int)DynamoDBValues.GetLong(item, SiloInstanceItem.ProxyPort));
                int generation = checked((int)DynamoDBValues.GetLong(item, SiloInstanceItem.Generation));
                gateways.Add(SiloAddress.New(new IPEndPoint(address, port), generation).ToGatewayUri());
            }
        }, cancellationToken).ConfigureAwait(false);
        return gateways;
    }

    public void Dispose() => _table.Dispose();

    Task IGatewayListProvider.InitializeGatewayListProvider() => InitializeGatewayListProviderAsync();

    Task<IList<Uri>> IGatewayListProvider.GetGateways() => GetGatewaysAsync();

    private string Explain(Exception e)
    {
        string table = _options.TableName;
        string section = DynamoDBClusteringOptions.SectionName;
        if (e is ResourceNotFoundException)
        {
            return $"The DynamoDB membership table '{table}' does not exist at {_options.Where}: no silo of cluster '{ClusterId}' has started there yet " +
                   $"(silos create it), or {section}:TableName or {section}:Service (the region) is not the silos'. ({e.Message})";
        }
        if (e is AmazonServiceException service && DynamoDBStartupErrors.IsAccessDenied(service))
        {
            return $"DynamoDB at {_options.Where} denied the client access to the membership table '{table}': a client needs dynamodb:Query on it. ({e.Message})";
        }
        return DynamoDBStartupErrors.Explain(e, "reading the gateways", _options, _table.Definition);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Found {Count} gateways of cluster {ClusterId} in DynamoDB table {TableName}.")]
    private static partial void LogGatewaysFound(ILogger logger, int count, string clusterId, string tableName);
}
