using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Reminders.DynamoDB;

/// <summary>
/// Orleans' reminder table in DynamoDB, on Orleans.Reminders.DynamoDB's table and indexes (see
/// <see cref="ReminderItem"/>). An upsert replaces the reminder's attributes and takes the next ETag
/// (the first one is random, so a reminder removed and made again does not repeat an old ETag);
/// removal is conditioned on the ETag. Reads of ranges and of a grain query the indexes, which
/// DynamoDB keeps eventually consistent, as the official provider does.
/// </summary>
public sealed partial class DynamoDBReminderTable : IReminderTable, IDisposable
{
    private readonly DynamoDBTableClient _table;

    /// <summary>The reminders of Orleans' service id, with a client of its own made from the options (how a silo gets it).</summary>
    [ActivatorUtilitiesConstructor]
    public DynamoDBReminderTable(
        IOptions<DynamoDBReminderTableOptions> options, IOptions<ClusterOptions> cluster, ILogger<DynamoDBReminderTable> logger, TimeProvider time)
        : this(DynamoDBTableClient.Create(options.Value, ReminderItem.Definition(options.Value), logger, time), cluster.Value.ServiceId)
    {
    }

    /// <summary>The reminders of <paramref name="serviceId"/> over <paramref name="client"/>, which the caller keeps and disposes.</summary>
    public DynamoDBReminderTable(
        IAmazonDynamoDB client, DynamoDBReminderTableOptions options, string serviceId, ILogger<DynamoDBReminderTable>? logger = null, TimeProvider? time = null)
        : this(DynamoDBTableClient.Over(client, options, ReminderItem.Definition(options), logger, time), serviceId)
    {
    }

    private DynamoDBReminderTable(DynamoDBTableClient table, string serviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        _table = table;
        ServiceId = serviceId;
    }

    public string ServiceId { get; }

    public string TableName => _table.TableName;

    /// <summary>Requests this table has sent.</summary>
    public DynamoDBRequestCounts Requests => _table.Requests;

    /// <summary>Creates the table and its indexes when missing and waits until they are ACTIVE; failures say what to fix.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _table.EnsureTableAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        var item = await _table.GetItemAsync(ReminderItem.Key(ServiceId, grainId, reminderName), cancellationToken).ConfigureAwait(false);
        return item is null ? null : ReminderItem.Parse(item);
    }

    public Task<ReminderTableData> ReadRows(GrainId grainId, CancellationToken cancellationToken)
    {
        var x = new DynamoDBExpression();
        return QueryAsync(ReminderItem.ServiceIdGrainReferenceIndex, x,
            $"{x.Name(ReminderItem.ServiceId)} = {x.Value(ServiceId)} AND {x.Name(ReminderItem.GrainReference)} = {x.Value(grainId.ToString())}", cancellationToken);
    }

    /// <summary>
    /// The reminders of the grains whose uniform hash is in the ring range (<paramref name="begin"/>, <paramref name="end"/>]:
    /// begin &lt; end is (begin, end]; begin &gt;= end wraps around, (begin, max] and [0, end].
    /// </summary>
    public async Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken)
    {
        if (begin < end)
        {
            var x = new DynamoDBExpression();
            return await QueryAsync(ReminderItem.ServiceIdIndex, x,
                $"{ServiceCondition(x)} AND {x.Name(ReminderItem.GrainHash)} BETWEEN {x.Value(begin + 1L)} AND {x.Value(end)}", cancellationToken).ConfigureAwait(false);
        }
        var low = new DynamoDBExpression();
        var lowPart = await QueryAsync(ReminderItem.ServiceIdIndex, low,
            $"{ServiceCondition(low)} AND {low.Name(ReminderItem.GrainHash)} <= {low.Value(end)}", cancellationToken).ConfigureAwait(false);
        var high = new DynamoDBExpression();
        var highPart = await QueryAsync(ReminderItem.ServiceIdIndex, high,
            $"{ServiceCondition(high)} AND {high.Name(ReminderItem.GrainHash)} > {high.Value(begin)}", cancellationToken).ConfigureAwait(false);
        return new ReminderTableData(lowPart.Reminders.Concat(highPart.Reminders));
    }

    public async Task<string?> UpsertRow(ReminderEntry entry, CancellationToken cancellationToken)
    {
        var x = new DynamoDBExpression();
        var sets = ReminderItem.Fields(ServiceId, entry).Select(f => $"{x.Name(f.Key)} = {x.Value(f.Value)}").ToList();
        string etag = x.Name(ReminderItem.ETag);
        // A random first ETag: one from before a removal is not handed out again.
        sets.Add($"{etag} = if_not_exists({etag}, {x.Value(Random.Shared.Next(0, int.MaxValue / 2))}) + {x.Value(1)}");
        Requests.Count("UpdateItem", write: true);
        var response = await _table.Client.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = TableName,
            Key = ReminderItem.Key(ServiceId, entry.GrainId, entry.ReminderName),
            UpdateExpression = "SET " + string.Join(", ", sets),
            ExpressionAttributeNames = x.NamesOrNull,
            ExpressionAttributeValues = x.ValuesOrNull,
            ReturnValues = ReturnValue.UPDATED_NEW,
        }, cancellationToken).ConfigureAwait(false);
        entry.ETag = DynamoDBValues.Etag(DynamoDBValues.GetLong(response.Attributes, ReminderItem.ETag));
        return entry.ETag;
    }

    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        // Not an etag this table hands out: no row has it.
        if (!DynamoDBValues.TryParseEtag(eTag, out long expected)) return false;
        var x = new DynamoDBExpression();
        try
        {
            Requests.Count("DeleteItem", write: true);
            await _table.Client.DeleteItemAsync(new DeleteItemRequest
            {
                TableName = TableName,
                Key = ReminderItem.Key(ServiceId, grainId, reminderName),
                ConditionExpression = $"{x.Name(ReminderItem.ETag)} = {x.Value(expected)}",
                ExpressionAttributeNames = x.NamesOrNull,
                ExpressionAttributeValues = x.ValuesOrNull,
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>Deletes every reminder of this service id (the official provider scans; this queries the index).</summary>
    public async Task TestOnlyClearTable(CancellationToken cancellationToken)
    {
        var x = new DynamoDBExpression();
        var query = IndexQuery(ReminderItem.ServiceIdIndex, x, ServiceCondition(x));
        query.ProjectionExpression = $"{x.Name(ReminderItem.ReminderId)}, {x.Name(ReminderItem.GrainHash)}";
        query.ExpressionAttributeNames = x.NamesOrNull;
        var keys = await _table.QueryListAsync(query, cancellationToken).ConfigureAwait(false);
        await _table.DeleteBatchesAsync(keys, $"reminders of service '{ServiceId}'", cancellationToken).ConfigureAwait(false);
        LogCleared(_table.Logger, keys.Count, ServiceId, TableName);
    }

    public void Dispose() => _table.Dispose();

    Task<ReminderEntry?> IReminderTable.ReadRow(GrainId grainId, string reminderName) => ReadRow(grainId, reminderName, CancellationToken.None);

    Task<ReminderTableData> IReminderTable.ReadRows(GrainId grainId) => ReadRows(grainId, CancellationToken.None);

    Task<ReminderTableData> IReminderTable.ReadRows(uint begin, uint end) => ReadRows(begin, end, CancellationToken.None);

    Task<string?> IReminderTable.UpsertRow(ReminderEntry entry) => UpsertRow(entry, CancellationToken.None);

    Task<bool> IReminderTable.RemoveRow(GrainId grainId, string reminderName, string eTag) => RemoveRow(grainId, reminderName, eTag, CancellationToken.None);

    Task IReminderTable.TestOnlyClearTable() => TestOnlyClearTable(CancellationToken.None);

    private string ServiceCondition(DynamoDBExpression x) => $"{x.Name(ReminderItem.ServiceId)} = {x.Value(ServiceId)}";

    private static QueryRequest IndexQuery(string index, DynamoDBExpression x, string keyCondition) => new()
    {
        IndexName = index,
        KeyConditionExpression = keyCondition,
        ExpressionAttributeNames = x.NamesOrNull,
        ExpressionAttributeValues = x.ValuesOrNull,
    };

    private async Task<ReminderTableData> QueryAsync(string index, DynamoDBExpression x, string keyCondition, CancellationToken cancellationToken)
    {
        var reminders = new List<ReminderEntry>();
        await _table.QueryAllAsync(IndexQuery(index, x, keyCondition), item =>
        {
            try
            {
                reminders.Add(ReminderItem.Parse(item));
            }
            catch (Exception e) when (e is FormatException or KeyNotFoundException or OverflowException or ArgumentException)
            {
                LogMalformedReminder(_table.Logger, e, DynamoDBValues.GetString(item, ReminderItem.ReminderId, "?"), TableName);
            }
        }, cancellationToken).ConfigureAwait(false);
        return new ReminderTableData(reminders);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Deleted {Count} reminders of service {ServiceId} from DynamoDB table {TableName}.")]
    private static partial void LogCleared(ILogger logger, int count, string serviceId, string tableName);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reminder {ReminderId} in DynamoDB table {TableName} is malformed; it is left out.")]
    private static partial void LogMalformedReminder(ILogger logger, Exception exception, string reminderId, string tableName);
}
