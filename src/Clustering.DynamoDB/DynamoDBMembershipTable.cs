using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;
using Item = System.Collections.Generic.Dictionary<string, Amazon.DynamoDBv2.Model.AttributeValue>;

namespace Orleans.Shuffle.Clustering.DynamoDB;

/// <summary>
/// Orleans' membership table in DynamoDB, on Orleans.Clustering.DynamoDB's schema and protocol: hash
/// key DeploymentId (the cluster id), range key SiloIdentity ("{ip}-{port}-{generation}"), one item
/// per silo plus a version row (range key "VersionRow") holding MembershipVersion and ETag.
/// <para>
/// Inserts and updates are one TransactWriteItems of the silo's item and the version row, each
/// conditioned on its ETag, so a lost race cancels both and returns false. ReadRow reads both items
/// in one TransactGetItems; ReadAll reads the version row, then the cluster's items, and again when
/// an item is newer than the version row (a write landed in between). UpdateIAmAlive writes only
/// IAmAliveTime. Where this differs from the official provider it is stricter, never another
/// format: a missing version row reads as version 0 with etag "0" and the next insert creates it;
/// clean-up deletes a defunct row only if unchanged since it was read; reads are bounded.
/// </para>
/// </summary>
public sealed partial class DynamoDBMembershipTable : IMembershipTable, IDisposable
{
    /// <summary>Reads of the table when a write lands between the version row and the rows.</summary>
    private const int MaxReadAttempts = 3;

    /// <summary>Retries of a transaction cancelled only because another transaction held an item.</summary>
    private const int MaxConflictAttempts = 5;

    private static readonly TableVersion MissingVersion = new(0, "0");

    private readonly DynamoDBTableClient _table;

    /// <summary>The table of Orleans' cluster id, with a client of its own made from the options (how a silo gets it).</summary>
    [ActivatorUtilitiesConstructor]
    public DynamoDBMembershipTable(
        IOptions<DynamoDBClusteringOptions> options, IOptions<ClusterOptions> cluster, ILogger<DynamoDBMembershipTable> logger, TimeProvider time)
        : this(DynamoDBTableClient.Create(options.Value, MembershipTableDefinition.For(options.Value), logger, time), cluster.Value.ClusterId)
    {
    }

    /// <summary>The table of <paramref name="clusterId"/> over <paramref name="client"/>, which the caller keeps and disposes.</summary>
    public DynamoDBMembershipTable(
        IAmazonDynamoDB client, DynamoDBClusteringOptions options, string clusterId, ILogger<DynamoDBMembershipTable>? logger = null, TimeProvider? time = null)
        : this(DynamoDBTableClient.Over(client, options, MembershipTableDefinition.For(options), logger, time), clusterId)
    {
    }

    private DynamoDBMembershipTable(DynamoDBTableClient table, string clusterId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        _table = table;
        ClusterId = clusterId;
    }

    public string ClusterId { get; }

    public string TableName => _table.TableName;

    /// <summary>Requests this table has sent.</summary>
    public DynamoDBRequestCounts Requests => _table.Requests;

    private ILogger Logger => _table.Logger;

    /// <summary>
    /// Creates the table when it is missing and waits until it is ACTIVE, then, if <paramref name="tryInitTableVersion"/>,
    /// the version row unless it exists. Failures are <see cref="InvalidOperationException"/>s that say what to fix.
    /// </summary>
    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken = default)
    {
        await _table.EnsureTableAsync(cancellationToken).ConfigureAwait(false);
        if (!tryInitTableVersion) return;
        try
        {
            var x = new DynamoDBExpression();
            Requests.Count("PutItem", write: true);
            var item = SiloInstanceItem.Key(ClusterId, SiloInstanceItem.VersionRow);
            foreach (var (name, value) in SiloInstanceItem.VersionFields(version: 0, etag: 0)) item[name] = value;
            await _table.Client.PutItemAsync(new PutItemRequest
            {
                TableName = TableName,
                Item = item,
                ConditionExpression = $"attribute_not_exists({x.Name(SiloInstanceItem.SiloIdentity)})",
                ExpressionAttributeNames = x.NamesOrNull,
            }, cancellationToken).ConfigureAwait(false);
            LogVersionRowCreated(Logger, ClusterId, TableName);
        }
        catch (ConditionalCheckFailedException)
        {
            // It exists: another silo, or an earlier run of this cluster, made it.
        }
        catch (Exception e) when (DynamoDBStartupErrors.IsAwsOrNetworkFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(DynamoDBStartupErrors.Explain(e, "creating the version row", _table.Options, _table.Definition), e);
        }
    }

    public async Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken = default)
    {
        var x = new DynamoDBExpression();
        var query = QueryOf(clusterId, x);
        query.ProjectionExpression = $"{x.Name(SiloInstanceItem.DeploymentId)}, {x.Name(SiloInstanceItem.SiloIdentity)}";
        query.ExpressionAttributeNames = x.NamesOrNull;
        var keys = await _table.QueryListAsync(query, cancellationToken).ConfigureAwait(false);
        await _table.DeleteBatchesAsync(keys, $"rows of cluster '{clusterId}'", cancellationToken).ConfigureAwait(false);
    }

    public async Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken = default)
    {
        var defunct = (await ReadRowsAsync(cancellationToken).ConfigureAwait(false))
            .Where(r => r.Entry.Status != SiloStatus.Active && new DateTimeOffset(r.Entry.IAmAliveTime, TimeSpan.Zero) < beforeDate)
            .ToList();
        foreach (var row in defunct)
        {
            try
            {
                var x = new DynamoDBExpression();
                Requests.Count("DeleteItem", write: true);
                await _table.Client.DeleteItemAsync(new DeleteItemRequest
                {
                    TableName = TableName,
                    Key = SiloInstanceItem.Key(ClusterId, SiloInstanceItem.Identity(row.Entry.SiloAddress)),
                    // Only the row as it was read: one written since (a vote, a status) waits for the next round.
                    ConditionExpression = $"{x.Name(SiloInstanceItem.ETag)} = {x.Value(row.ETag)}",
                    ExpressionAttributeNames = x.NamesOrNull,
                    ExpressionAttributeValues = x.ValuesOrNull,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (ConditionalCheckFailedException)
            {
            }
        }
        LogDefunctRowsDeleted(Logger, defunct.Count, ClusterId, beforeDate);
    }

    public async Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken = default)
    {
        // One snapshot of the silo's row and the version row, as the official provider reads them.
        Requests.Count("TransactGetItems", write: false);
        var response = await _table.Client.TransactGetItemsAsync(new TransactGetItemsRequest
        {
            TransactItems =
            [
                new TransactGetItem { Get = new Get { TableName = TableName, Key = SiloInstanceItem.Key(ClusterId, SiloInstanceItem.Identity(key)) } },
                new TransactGetItem { Get = new Get { TableName = TableName, Key = SiloInstanceItem.Key(ClusterId, SiloInstanceItem.VersionRow) } },
            ],
        }, cancellationToken).ConfigureAwait(false);
        var items = response.Responses ?? [];
        var rowItem = items.Count > 0 ? items[0].Item : null;
        var versionItem = items.Count > 1 ? items[1].Item : null;
        var version = versionItem is { Count: > 0 } ? ParseVersion(versionItem) : MissingVersion;
        var members = new List<Tuple<MembershipEntry, string>>();
        if (rowItem is { Count: > 0 } && TryParseRow(rowItem, out var row)) members.Add(Tuple.Create(row.Entry, DynamoDBValues.Etag(row.ETag)));
        return new MembershipTableData(members, version);
    }

    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        for (int attempt = 1; ; attempt++)
        {
            var version = await ReadVersionAsync(cancellationToken).ConfigureAwait(false);
            var rows = await ReadRowsAsync(cancellationToken).ConfigureAwait(false);
            // A row newer than the version row was written after the version row was read: read both again.
            // Past the last attempt the older version is returned; a write made with it fails its condition,
            // so the caller reads again anyway.
            if (rows.All(r => r.MembershipVersion <= version.Version) || attempt == MaxReadAttempts)
                return new MembershipTableData(rows.Select(r => Tuple.Create(r.Entry, DynamoDBValues.Etag(r.ETag))).ToList(), version);
            LogInconsistentRead(Logger, ClusterId, attempt);
        }
    }

    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        if (!TryVersionUpdate(tableVersion, out var versionUpdate))
        {
            LogInvalidEtag(Logger, "version", tableVersion.VersionEtag, entry.SiloAddress);
            return false;
        }
        var x = new DynamoDBExpression();
        var put = new Put
        {
            TableName = TableName,
            Item = SiloInstanceItem.ToItem(ClusterId, entry, etag: 0, tableVersion.Version),
            ConditionExpression = $"attribute_not_exists({x.Name(SiloInstanceItem.DeploymentId)}) AND attribute_not_exists({x.Name(SiloInstanceItem.SiloIdentity)})",
            ExpressionAttributeNames = x.NamesOrNull,
        };
        return await TryTransactAsync([new TransactWriteItem { Put = put }, versionUpdate], entry, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        if (!DynamoDBValues.TryParseEtag(etag, out long rowEtag) || !TryVersionUpdate(tableVersion, out var versionUpdate))
        {
            LogInvalidEtag(Logger, "row or version", $"{etag}, {tableVersion.VersionEtag}", entry.SiloAddress);
            return false;
        }
        // The whole item is replaced (Orleans: "the old entry will be fully substituted"), so a vote
        // list that became empty leaves no SuspectingSilos behind.
        var x = new DynamoDBExpression();
        var put = new Put
        {
            TableName = TableName,
            Item = SiloInstanceItem.ToItem(ClusterId, entry, rowEtag + 1, tableVersion.Version),
            ConditionExpression = $"{x.Name(SiloInstanceItem.ETag)} = {x.Value(rowEtag)}",
            ExpressionAttributeNames = x.NamesOrNull,
            ExpressionAttributeValues = x.ValuesOrNull,
        };
        return await TryTransactAsync([new TransactWriteItem { Put = put }, versionUpdate], entry, cancellationToken).ConfigureAwait(false);
    }

    public async Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken = default)
    {
        var x = new DynamoDBExpression();
        try
        {
            Requests.Count("UpdateItem", write: true);
            await _table.Client.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = TableName,
                Key = SiloInstanceItem.Key(ClusterId, SiloInstanceItem.Identity(entry.SiloAddress)),
                UpdateExpression = $"SET {x.Name(SiloInstanceItem.IAmAliveTime)} = {x.Value(SiloInstanceItem.FormatTime(entry.IAmAliveTime))}",
                ConditionExpression = $"attribute_exists({x.Name(SiloInstanceItem.DeploymentId)}) AND attribute_exists({x.Name(SiloInstanceItem.SiloIdentity)})",
                ExpressionAttributeNames = x.NamesOrNull,
                ExpressionAttributeValues = x.ValuesOrNull,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException e)
        {
            throw new KeyNotFoundException($"No membership row for silo {entry.SiloAddress} of cluster '{ClusterId}' in DynamoDB table '{TableName}'.", e);
        }
    }

    public void Dispose() => _table.Dispose();

    // The interface's older forms, without a cancellation token.
    Task IMembershipTable.InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion);

    Task IMembershipTable.DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId);

    Task IMembershipTable.CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate);

    Task<MembershipTableData> IMembershipTable.ReadRow(SiloAddress key) => ReadRowAsync(key);

    Task<MembershipTableData> IMembershipTable.ReadAll() => ReadAllAsync();

    Task<bool> IMembershipTable.InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion);

    Task<bool> IMembershipTable.UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion);

    Task IMembershipTable.UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry);

    // ---- Reads ----

    private QueryRequest QueryOf(string clusterId, DynamoDBExpression x) => new()
    {
        TableName = TableName,
        ConsistentRead = true,
        KeyConditionExpression = $"{x.Name(SiloInstanceItem.DeploymentId)} = {x.Value(clusterId)}",
        ExpressionAttributeNames = x.NamesOrNull,
        ExpressionAttributeValues = x.ValuesOrNull,
    };

    private async Task<TableVersion> ReadVersionAsync(CancellationToken cancellationToken) =>
        await _table.GetItemAsync(SiloInstanceItem.Key(ClusterId, SiloInstanceItem.VersionRow), cancellationToken).ConfigureAwait(false) is { } item
            ? ParseVersion(item)
            : MissingVersion;

    private static TableVersion ParseVersion(Item item) =>
        new(SiloInstanceItem.RowVersion(item), DynamoDBValues.Etag(SiloInstanceItem.RowEtag(item)));

    /// <summary>The silo rows of this cluster; malformed ones are logged and left out, as Orleans does.</summary>
    private async Task<List<StoredRow>> ReadRowsAsync(CancellationToken cancellationToken)
    {
        var rows = new List<StoredRow>();
        await _table.QueryAllAsync(QueryOf(ClusterId, new DynamoDBExpression()), item =>
        {
            if (!SiloInstanceItem.IsVersionRow(item) && TryParseRow(item, out var row)) rows.Add(row);
        }, cancellationToken).ConfigureAwait(false);
        return rows;
    }

    private bool TryParseRow(Item item, out StoredRow row)
    {
        try
        {
            row = new StoredRow(SiloInstanceItem.ParseEntry(item), SiloInstanceItem.RowEtag(item), SiloInstanceItem.RowVersion(item));
            return true;
        }
        catch (Exception e) when (e is FormatException or KeyNotFoundException or OverflowException)
        {
            LogMalformedRow(Logger, e, DynamoDBValues.GetString(item, SiloInstanceItem.SiloIdentity, "?"), TableName);
            row = null!;
            return false;
        }
    }

    // ---- Writes ----

    /// <summary>
    /// The version row's part of a transaction: the new version and etag + 1, conditioned on the etag the
    /// caller read. Etag 0 is also what a missing version row reads as, so then the row may be absent
    /// and the update creates it.
    /// </summary>
    private bool TryVersionUpdate(TableVersion tableVersion, out TransactWriteItem write)
    {
        write = null!;
        if (!DynamoDBValues.TryParseEtag(tableVersion.VersionEtag, out long expected)) return false;
        var x = new DynamoDBExpression();
        var fields = SiloInstanceItem.VersionFields(tableVersion.Version, expected + 1);
        string etag = x.Name(SiloInstanceItem.ETag);
        string condition = $"{etag} = {x.Value(expected)}";
        if (expected == 0) condition = $"attribute_not_exists({etag}) OR {condition}";
        write = new TransactWriteItem
        {
            Update = new Update
            {
                TableName = TableName,
                Key = SiloInstanceItem.Key(ClusterId, SiloInstanceItem.VersionRow),
                UpdateExpression = "SET " + string.Join(", ", fields.Select(f => $"{x.Name(f.Key)} = {x.Value(f.Value)}")),
                ConditionExpression = condition,
                ExpressionAttributeNames = x.NamesOrNull,
                ExpressionAttributeValues = x.ValuesOrNull,
            },
        };
        return true;
    }

    /// <summary>Runs the transaction; false when a condition failed (the caller lost the race).</summary>
    private async Task<bool> TryTransactAsync(List<TransactWriteItem> items, MembershipEntry entry, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Requests.Count("TransactWriteItems", write: true);
                await _table.Client.TransactWriteItemsAsync(new TransactWriteItemsRequest { TransactItems = items }, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (TransactionCanceledException e)
            {
                var codes = e.CancellationReasons?.Select(r => r.Code).ToList() ?? [];
                if (codes.Contains("ConditionalCheckFailed"))
                {
                    LogLostRace(Logger, entry.SiloAddress, ClusterId);
                    return false;
                }
                if (!codes.Contains("TransactionConflict")) throw;
                // Another transaction held one of the items and probably changed it: retry, and the
                // conditions decide. Past the bound, count it as lost; the caller reads again.
                if (attempt == MaxConflictAttempts) return false;
                await Task.Delay(DynamoDBBackoff.Delay(attempt), _table.Time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private sealed record StoredRow(MembershipEntry Entry, long ETag, int MembershipVersion);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the version row of cluster {ClusterId} in DynamoDB table {TableName}.")]
    private static partial void LogVersionRowCreated(ILogger logger, string clusterId, string tableName);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Deleted {Count} defunct rows of cluster {ClusterId} older than {BeforeDate}.")]
    private static partial void LogDefunctRowsDeleted(ILogger logger, int count, string clusterId, DateTimeOffset beforeDate);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A row of cluster {ClusterId} is newer than the version row read before it (attempt {Attempt}); reading again.")]
    private static partial void LogInconsistentRead(ILogger logger, string clusterId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Membership write for {Silo} refused: {What} etag '{Etag}' is not a DynamoDB etag.")]
    private static partial void LogInvalidEtag(ILogger logger, string what, string etag, SiloAddress silo);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership write for {Silo} of cluster {ClusterId} lost a race (an etag changed).")]
    private static partial void LogLostRace(ILogger logger, SiloAddress silo, string clusterId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Membership row {SiloIdentity} in DynamoDB table {TableName} is malformed; it is left out.")]
    private static partial void LogMalformedRow(ILogger logger, Exception exception, string siloIdentity, string tableName);
}
