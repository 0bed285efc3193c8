using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// One provider's way to its table: the client (owned, or the caller's), the options and table
/// definition, the counts of the requests sent, and the requests every provider makes in the same
/// way: consistent GetItem, paged Query, batched writes and deletes, and table set-up.
/// </summary>
public sealed class DynamoDBTableClient : IDisposable
{
    private readonly bool _ownsClient;

    private DynamoDBTableClient(IAmazonDynamoDB client, DynamoDBClientOptions options, DynamoDBTableDefinition definition, ILogger? logger, TimeProvider? time, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(definition);
        Client = client;
        Options = options;
        Definition = definition;
        Logger = logger ?? NullLogger.Instance;
        Time = time ?? TimeProvider.System;
        _ownsClient = ownsClient;
    }

    /// <summary>A client of its own, made from <paramref name="options"/> once they are checked (an <see cref="OrleansConfigurationException"/> lists their problems).</summary>
    public static DynamoDBTableClient Create<TOptions>(TOptions options, DynamoDBTableDefinition definition, ILogger? logger, TimeProvider? time)
        where TOptions : DynamoDBClientOptions =>
        new(DynamoDBOptionsValidator<TOptions>.Check(options, definition.Section).CreateClient(), options, definition, logger, time, ownsClient: true);

    /// <summary>Over <paramref name="client"/>, which the caller keeps and disposes.</summary>
    public static DynamoDBTableClient Over(IAmazonDynamoDB client, DynamoDBClientOptions options, DynamoDBTableDefinition definition, ILogger? logger, TimeProvider? time) =>
        new(client, options, definition, logger, time, ownsClient: false);

    public IAmazonDynamoDB Client { get; }

    public DynamoDBClientOptions Options { get; }

    public DynamoDBTableDefinition Definition { get; }

    public string TableName => Definition.TableName;

    public ILogger Logger { get; }

    public TimeProvider Time { get; }

    /// <summary>Requests sent to the table.</summary>
    public DynamoDBRequestCounts Requests { get; } = new();

    /// <summary>Creates and checks the table (<see cref="DynamoDBTableSetup"/>); failures say what to fix.</summary>
    public Task EnsureTableAsync(CancellationToken cancellationToken) =>
        DynamoDBTableSetup.EnsureAsync(Client, Options, Definition, Requests, Logger, Time, cancellationToken);

    /// <summary>The item with <paramref name="key"/>, read consistently, or null when there is none.</summary>
    public async Task<Dictionary<string, AttributeValue>?> GetItemAsync(Dictionary<string, AttributeValue> key, CancellationToken cancellationToken)
    {
        Requests.Count("GetItem", write: false);
        var response = await Client.GetItemAsync(new GetItemRequest { TableName = TableName, Key = key, ConsistentRead = true }, cancellationToken).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item ? item : null;
    }

    /// <summary>Runs <paramref name="request"/> on this table page after page (<see cref="DynamoDBBatches.QueryAllAsync"/>).</summary>
    public Task QueryAllAsync(QueryRequest request, Action<Dictionary<string, AttributeValue>> onItem, CancellationToken cancellationToken)
    {
        request.TableName = TableName;
        return DynamoDBBatches.QueryAllAsync(Client, request, Requests, onItem, cancellationToken);
    }

    /// <summary>Every item <paramref name="request"/> finds in this table.</summary>
    public async Task<List<Dictionary<string, AttributeValue>>> QueryListAsync(QueryRequest request, CancellationToken cancellationToken)
    {
        var items = new List<Dictionary<string, AttributeValue>>();
        await QueryAllAsync(request, items.Add, cancellationToken).ConfigureAwait(false);
        return items;
    }

    /// <summary>Writes <paramref name="requests"/> in batches (<see cref="DynamoDBBatches.WriteAsync"/>).</summary>
    public Task WriteBatchesAsync(IEnumerable<WriteRequest> requests, string what, CancellationToken cancellationToken, int parallelism = 4) =>
        DynamoDBBatches.WriteAsync(Client, TableName, requests, Requests, what, cancellationToken, parallelism);

    /// <summary>Deletes the items with <paramref name="keys"/> in batches.</summary>
    public Task DeleteBatchesAsync(IEnumerable<Dictionary<string, AttributeValue>> keys, string what, CancellationToken cancellationToken) =>
        WriteBatchesAsync(keys.Select(key => new WriteRequest { DeleteRequest = new DeleteRequest { Key = key } }), what, cancellationToken);

    public void Dispose()
    {
        if (_ownsClient) Client.Dispose();
    }
}
