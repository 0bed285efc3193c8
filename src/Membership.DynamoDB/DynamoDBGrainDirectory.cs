using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.GrainDirectory;

namespace Orleans.Shuffle.Membership.DynamoDB;

/// <summary>
/// The grain directory in DynamoDB: one item per registered grain, hash key ClusterId, range key
/// GrainId, attribute SiloIdentity. Registration is a conditional put (no item, or the item still
/// names the silo being replaced), so of racing silos exactly one wins and the others read the winner
/// back; lookups are consistent reads; removals are conditioned on the silo, so a silo never removes
/// a registration it does not own.
/// </summary>
public sealed class DynamoDBGrainDirectory : IGrainDirectory, IDisposable
{
    internal const string ClusterIdAttribute = "ClusterId";
    internal const string GrainIdAttribute = "GrainId";
    internal const string SiloIdentityAttribute = "SiloIdentity";

    /// <summary>Rounds of register-then-read when the winner is gone before it could be read.</summary>
    private const int MaxRegisterAttempts = 5;

    /// <summary>Conditional deletes in flight at once in <see cref="UnregisterSilos"/>.</summary>
    private const int DeleteParallelism = 8;

    private const int MaxPages = 100_000;

    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;
    private readonly DynamoDBClusteringOptions _options;
    private readonly OnceAsync _initialize;

    /// <summary>The directory of <paramref name="clusterId"/> with its own client, built from <paramref name="options"/>.</summary>
    public DynamoDBGrainDirectory(DynamoDBClusteringOptions options, string clusterId)
        : this(options.CreateClient(), options, clusterId, ownsClient: true)
    {
    }

    /// <summary>The directory of <paramref name="clusterId"/> over <paramref name="client"/>; disposes it only if <paramref name="ownsClient"/>.</summary>
    public DynamoDBGrainDirectory(IAmazonDynamoDB client, DynamoDBClusteringOptions options, string clusterId, bool ownsClient = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        var problems = (options.GrainDirectory ?? new()).Validate("GrainDirectory").ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join(" ", problems), nameof(options));
        _client = client;
        _options = options;
        _ownsClient = ownsClient;
        ClusterId = clusterId;
        TableName = (options.GrainDirectory ?? new()).TableName;
        _initialize = new OnceAsync(() => DynamoDBTableSetup.EnsureAsync(_client, _options, new DynamoDBTableSpec(
            TableName, ClusterIdAttribute, GrainIdAttribute, "grain directory", "Membership:DynamoDB:GrainDirectory", TimeToLiveAttribute: null,
            "GetItem, PutItem, DeleteItem and Query"), Requests));
    }

    public string ClusterId { get; }

    public string TableName { get; }

    /// <summary>Requests this directory has sent (each SDK call once, whatever the SDK retried).</summary>
    public DynamoDBRequestCounts Requests { get; } = new();

    /// <summary>
    /// Creates the table when it is missing and waits until it is ACTIVE. A silo runs it at start-up;
    /// the other methods run it first if nobody did. Failures are InvalidOperationExceptions that say what to fix.
    /// </summary>
    public Task InitializeAsync() => _initialize.RunAsync();

    public async Task<GrainAddress> Register(GrainAddress address, GrainAddress? previousAddress)
    {
        Check(address);
        await EnsureInitializedAsync().ConfigureAwait(false);
        for (int attempt = 1; ; attempt++)
        {
            var x = new DynamoDBExpression();
            string condition = $"attribute_not_exists({x.Name(GrainIdAttribute)})";
            if (previousAddress is not null) condition += $" OR {x.Name(SiloIdentityAttribute)} = {x.Value(previousAddress.SiloIdentity)}";
            try
            {
                Requests.Count("PutItem", write: true);
                await _client.PutItemAsync(new PutItemRequest
                {
                    TableName = TableName,
                    Item = new Dictionary<string, AttributeValue>
                    {
                        [ClusterIdAttribute] = new() { S = ClusterId },
                        [GrainIdAttribute] = new() { S = address.GrainId },
                        [SiloIdentityAttribute] = new() { S = address.SiloIdentity },
                    },
                    ConditionExpression = condition,
                    ExpressionAttributeNames = x.NamesOrNull,
                    ExpressionAttributeValues = x.ValuesOrNull,
                }).ConfigureAwait(false);
                return address;
            }
            catch (ConditionalCheckFailedException)
            {
                // Someone else holds it: that registration wins. If it went away before we could read
                // it, register again (its silo unregistered; the conditions decide anew).
                if (await Lookup(address.GrainId).ConfigureAwait(false) is { } winner) return winner;
                if (attempt == MaxRegisterAttempts)
                    throw new InvalidOperationException($"The registration of grain {address.GrainId} in '{TableName}' kept changing under {MaxRegisterAttempts} attempts; try again.");
            }
        }
    }

    public async Task<GrainAddress?> Lookup(string grainId)
    {
        ArgumentException.ThrowIfNullOrEmpty(grainId);
        await EnsureInitializedAsync().ConfigureAwait(false);
        Requests.Count("GetItem", write: false);
        var response = await _client.GetItemAsync(new GetItemRequest
        {
            TableName = TableName,
            Key = Key(grainId),
            ConsistentRead = true,
        }).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item && item.TryGetValue(SiloIdentityAttribute, out var silo) && silo.S is not null
            ? new GrainAddress(grainId, silo.S)
            : null;
    }

    public async Task Unregister(GrainAddress address)
    {
        Check(address);
        await EnsureInitializedAsync().ConfigureAwait(false);
        await TryDeleteAsync(address.GrainId, address.SiloIdentity).ConfigureAwait(false);
    }

    public async Task UnregisterSilos(IReadOnlyCollection<string> siloIdentities)
    {
        ArgumentNullException.ThrowIfNull(siloIdentities);
        if (siloIdentities.Count == 0) return;
        await EnsureInitializedAsync().ConfigureAwait(false);
        var dead = siloIdentities.ToHashSet(StringComparer.Ordinal);

        var doomed = new List<GrainAddress>();
        Dictionary<string, AttributeValue>? start = null;
        for (int page = 0; ; page++)
        {
            if (page == MaxPages)
                throw new InvalidOperationException($"The query of cluster '{ClusterId}' in '{TableName}' did not end after {MaxPages} pages.");
            var x = new DynamoDBExpression();
            Requests.Count("Query", write: false);
            var response = await _client.QueryAsync(new QueryRequest
            {
                TableName = TableName,
                ConsistentRead = true,
                KeyConditionExpression = $"{x.Name(ClusterIdAttribute)} = {x.Value(ClusterId)}",
                ProjectionExpression = $"{x.Name(GrainIdAttribute)}, {x.Name(SiloIdentityAttribute)}",
                ExpressionAttributeNames = x.NamesOrNull,
                ExpressionAttributeValues = x.ValuesOrNull,
                ExclusiveStartKey = start,
            }).ConfigureAwait(false);
            foreach (var item in response.Items ?? [])
            {
                if (item.TryGetValue(GrainIdAttribute, out var grain) && grain.S is not null
                    && item.TryGetValue(SiloIdentityAttribute, out var silo) && silo.S is not null && dead.Contains(silo.S))
                {
                    doomed.Add(new GrainAddress(grain.S, silo.S));
                }
            }
            if (response.LastEvaluatedKey is not { Count: > 0 }) break;
            start = response.LastEvaluatedKey;
        }

        // Each delete is conditioned on the dead silo: a grain re-registered meanwhile stays.
        await Parallel.ForEachAsync(doomed, new ParallelOptions { MaxDegreeOfParallelism = DeleteParallelism },
            async (address, _) => await TryDeleteAsync(address.GrainId, address.SiloIdentity).ConfigureAwait(false)).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }

    /// <summary>Deletes the registration of <paramref name="grainId"/> if it is still <paramref name="siloIdentity"/>'s.</summary>
    private async Task TryDeleteAsync(string grainId, string siloIdentity)
    {
        var x = new DynamoDBExpression();
        try
        {
            Requests.Count("DeleteItem", write: true);
            await _client.DeleteItemAsync(new DeleteItemRequest
            {
                TableName = TableName,
                Key = Key(grainId),
                ConditionExpression = $"{x.Name(SiloIdentityAttribute)} = {x.Value(siloIdentity)}",
                ExpressionAttributeNames = x.NamesOrNull,
                ExpressionAttributeValues = x.ValuesOrNull,
            }).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // Not (or no longer) that silo's registration.
        }
    }

    private Dictionary<string, AttributeValue> Key(string grainId) => new()
    {
        [ClusterIdAttribute] = new() { S = ClusterId },
        [GrainIdAttribute] = new() { S = grainId },
    };

    private static void Check(GrainAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentException.ThrowIfNullOrEmpty(address.GrainId);
        ArgumentException.ThrowIfNullOrEmpty(address.SiloIdentity);
    }

    private Task EnsureInitializedAsync() => _initialize.Succeeded ? Task.CompletedTask : _initialize.RunAsync();
}
