using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace Orleans.Shuffle.Membership.DynamoDB;

/// <summary>
/// The membership table in DynamoDB, with Orleans.Clustering.DynamoDB's schema and protocol:
/// hash key DeploymentId (the cluster id), range key SiloIdentity ("{ip}-{port}-{generation}"),
/// one item per silo plus a version row (range key "VersionRow") holding MembershipVersion and ETag.
/// Inserts and updates are one TransactWriteItems of the silo row and the version row, each
/// conditioned on its ETag, so a lost race cancels both and returns false. Reads are consistent:
/// the version row first, then a query of the hash key, read again when a row is newer than the
/// version row (a write landed in between).
/// </summary>
public sealed class DynamoDBMembershipTable : IMembershipTable, IDisposable
{
    /// <summary>Range key of the version row.</summary>
    public const string VersionRowKey = "VersionRow";

    internal const string DeploymentIdAttribute = "DeploymentId";
    internal const string SiloIdentityAttribute = "SiloIdentity";
    internal const string AddressAttribute = "Address";
    internal const string PortAttribute = "Port";
    internal const string GenerationAttribute = "Generation";
    internal const string HostNameAttribute = "HostName";
    internal const string StatusAttribute = "SiloStatus";
    internal const string ProxyPortAttribute = "ProxyPort";
    internal const string HttpPortAttribute = "HttpPort";
    internal const string SiloNameAttribute = "SiloName";
    internal const string RoleNameAttribute = "RoleName";
    internal const string FaultZoneAttribute = "FaultZone";
    internal const string SuspectingSilosAttribute = "SuspectingSilos";
    internal const string SuspectingTimesAttribute = "SuspectingTimes";
    internal const string StartTimeAttribute = "StartTime";
    internal const string IAmAliveTimeAttribute = "IAmAliveTime";
    internal const string ETagAttribute = "ETag";
    internal const string MembershipVersionAttribute = "MembershipVersion";

    private const char ListSeparator = '|';
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    /// <summary>Reads of the table when a write lands between the version row and the rows.</summary>
    private const int MaxReadAttempts = 3;

    /// <summary>Retries of a transaction cancelled only because another transaction held an item.</summary>
    private const int MaxConflictAttempts = 5;

    /// <summary>Rounds of BatchWriteItem for the items DynamoDB left unprocessed.</summary>
    private const int MaxBatchAttempts = 8;

    private const int BatchWriteLimit = 25;
    private const int MaxPages = 100_000;

    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;
    private readonly DynamoDBClusteringOptions _options;

    /// <summary>A table of <paramref name="clusterId"/> with its own client, built from <paramref name="options"/>.</summary>
    public DynamoDBMembershipTable(DynamoDBClusteringOptions options, string clusterId)
        : this(options.CreateClient(), options, clusterId, ownsClient: true)
    {
    }

    /// <summary>A table of <paramref name="clusterId"/> over <paramref name="client"/>; disposes it only if <paramref name="ownsClient"/>.</summary>
    public DynamoDBMembershipTable(IAmazonDynamoDB client, DynamoDBClusteringOptions options, string clusterId, bool ownsClient = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        _client = client;
        _options = options;
        _ownsClient = ownsClient;
        ClusterId = clusterId;
    }

    public string ClusterId { get; }

    public string TableName => _options.TableName;

    /// <summary>Requests this table has sent (each SDK call once, whatever the SDK retried).</summary>
    public DynamoDBRequestCounts Requests { get; } = new();

    /// <summary>The table as <see cref="DynamoDBTableSetup"/> describes, creates and checks it; its rows have no TTL.</summary>
    private DynamoDBTableSpec Spec => new(
        TableName, DeploymentIdAttribute, SiloIdentityAttribute, "membership", "Membership:DynamoDB", TimeToLiveAttribute: null,
        "GetItem, PutItem, UpdateItem, DeleteItem, Query, BatchWriteItem and TransactWriteItems");

    /// <summary>
    /// Creates the table when it is missing and waits until it is ACTIVE (<see cref="DynamoDBTableSetup"/>), then,
    /// if <paramref name="tryInitTableVersion"/>, the version row. Failures are InvalidOperationExceptions that say what to fix.
    /// </summary>
    public async Task InitializeMembershipTable(bool tryInitTableVersion)
    {
        await DynamoDBTableSetup.EnsureAsync(_client, _options, Spec, Requests).ConfigureAwait(false);
        if (!tryInitTableVersion) return;
        try
        {
            await CreateVersionRowAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (DynamoDBTableSetup.IsAwsOrNetworkFailure(e))
        {
            throw new InvalidOperationException(DynamoDBTableSetup.Explain(e, "creating the version row", _options, Spec), e);
        }
    }

    public async Task DeleteMembershipTableEntries(string clusterId)
    {
        var keys = new List<Dictionary<string, AttributeValue>>();
        await QueryAsync(clusterId, item => keys.Add(new Dictionary<string, AttributeValue>
        {
            [DeploymentIdAttribute] = item[DeploymentIdAttribute],
            [SiloIdentityAttribute] = item[SiloIdentityAttribute],
        }), keysOnly: true).ConfigureAwait(false);

        foreach (var chunk in keys.Chunk(BatchWriteLimit))
        {
            var pending = new Dictionary<string, List<WriteRequest>>
            {
                [TableName] = chunk.Select(key => new WriteRequest { DeleteRequest = new DeleteRequest { Key = key } }).ToList(),
            };
            for (int attempt = 0; pending.Count > 0; attempt++)
            {
                if (attempt == MaxBatchAttempts)
                    throw new InvalidOperationException($"DynamoDB left rows of cluster '{clusterId}' in '{TableName}' undeleted after {MaxBatchAttempts} rounds (throttled).");
                if (attempt > 0) await Task.Delay(DynamoDBTableSetup.Backoff(attempt)).ConfigureAwait(false);
                Requests.Count("BatchWriteItem", write: true);
                var response = await _client.BatchWriteItemAsync(new BatchWriteItemRequest { RequestItems = pending }).ConfigureAwait(false);
                pending = response.UnprocessedItems?.Where(p => p.Value is { Count: > 0 }).ToDictionary() ?? [];
            }
        }
    }

    public async Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        var defunct = new List<StoredRow>();
        await QueryAsync(ClusterId, item =>
        {
            if (IsVersionRow(item)) return;
            var row = ParseRow(item);
            if (row.Entry.Status != SiloStatus.Active && row.Entry.IAmAliveTime < beforeDate) defunct.Add(row);
        }).ConfigureAwait(false);

        foreach (var row in defunct)
        {
            try
            {
                Requests.Count("DeleteItem", write: true);
                await _client.DeleteItemAsync(new DeleteItemRequest
                {
                    TableName = TableName,
                    Key = Key(ClusterId, row.Entry.SiloAddress.Identity),
                    // Only the row as read: one written since (a vote, a status) is left for the next round.
                    ConditionExpression = "#etag = :etag",
                    ExpressionAttributeNames = new Dictionary<string, string> { ["#etag"] = ETagAttribute },
                    ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":etag"] = Number(row.ETag) },
                }).ConfigureAwait(false);
            }
            catch (ConditionalCheckFailedException)
            {
            }
        }
    }

    public async Task<MembershipTableData> ReadRow(SiloAddress key)
    {
        for (int attempt = 1; ; attempt++)
        {
            var version = await ReadVersionAsync().ConfigureAwait(false);
            var item = await GetItemAsync(key.Identity).ConfigureAwait(false);
            var row = item is null ? null : ParseRow(item);
            if (row is null || row.MembershipVersion <= version.Version || attempt == MaxReadAttempts)
            {
                List<MembershipRow> members = row is null ? [] : [new MembershipRow(row.Entry, Etag(row.ETag))];
                return new MembershipTableData(members, version);
            }
        }
    }

    public async Task<MembershipTableData> ReadAll()
    {
        for (int attempt = 1; ; attempt++)
        {
            var version = await ReadVersionAsync().ConfigureAwait(false);
            var rows = new List<StoredRow>();
            await QueryAsync(ClusterId, item =>
            {
                if (!IsVersionRow(item)) rows.Add(ParseRow(item));
            }).ConfigureAwait(false);

            // A row newer than the version row was written after the version row was read: read both
            // again. After the last attempt the stale version is returned; a write made with it fails its
            // condition, so the caller reads again anyway.
            if (rows.All(r => r.MembershipVersion <= version.Version) || attempt == MaxReadAttempts)
                return new MembershipTableData(rows.Select(r => new MembershipRow(r.Entry, Etag(r.ETag))).ToList(), version);
        }
    }

    public async Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion)
    {
        if (!TryVersionWrite(tableVersion, out var versionWrite)) return false;
        var put = new Put
        {
            TableName = TableName,
            Item = ToItem(entry, etag: 0, tableVersion.Version),
            ConditionExpression = "attribute_not_exists(#identity)",
            ExpressionAttributeNames = new Dictionary<string, string> { ["#identity"] = SiloIdentityAttribute },
        };
        return await TryTransactAsync([new TransactWriteItem { Put = put }, versionWrite]).ConfigureAwait(false);
    }

    public async Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion)
    {
        if (!TryParseEtag(etag, out long rowEtag) || !TryVersionWrite(tableVersion, out var versionWrite)) return false;
        var put = new Put
        {
            TableName = TableName,
            Item = ToItem(entry, rowEtag + 1, tableVersion.Version),
            ConditionExpression = "#etag = :etag",
            ExpressionAttributeNames = new Dictionary<string, string> { ["#etag"] = ETagAttribute },
            ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":etag"] = Number(rowEtag) },
        };
        return await TryTransactAsync([new TransactWriteItem { Put = put }, versionWrite]).ConfigureAwait(false);
    }

    public async Task UpdateIAmAlive(MembershipEntry entry)
    {
        try
        {
            Requests.Count("UpdateItem", write: true);
            await _client.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = TableName,
                Key = Key(ClusterId, entry.SiloAddress.Identity),
                UpdateExpression = "SET #alive = :alive",
                ConditionExpression = "attribute_exists(#identity)",
                ExpressionAttributeNames = new Dictionary<string, string> { ["#alive"] = IAmAliveTimeAttribute, ["#identity"] = SiloIdentityAttribute },
                ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":alive"] = Time(entry.IAmAliveTime) },
            }).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException e)
        {
            throw new KeyNotFoundException($"No membership row for {entry.SiloAddress} in DynamoDB table '{TableName}'.", e);
        }
    }

    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }

    // ---- Table set-up (the table itself: DynamoDBTableSetup) ----

    private async Task CreateVersionRowAsync()
    {
        try
        {
            Requests.Count("PutItem", write: true);
            await _client.PutItemAsync(new PutItemRequest
            {
                TableName = TableName,
                Item = VersionItem(version: 0, etag: 0),
                ConditionExpression = "attribute_not_exists(#identity)",
                ExpressionAttributeNames = new Dictionary<string, string> { ["#identity"] = SiloIdentityAttribute },
            }).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // It exists: another silo, or an earlier run of this cluster, made it.
        }
    }

    // ---- Reads ----

    private async Task<TableVersion> ReadVersionAsync()
    {
        var item = await GetItemAsync(VersionRowKey).ConfigureAwait(false);
        // No version row (the entries were deleted): version 0 with the empty etag, which makes the
        // next insert create the row again, conditioned on its absence.
        if (item is null) return new TableVersion(0, "");
        return new TableVersion(
            checked((int)GetLong(item, MembershipVersionAttribute)),
            Etag(GetLong(item, ETagAttribute)));
    }

    private async Task<Dictionary<string, AttributeValue>?> GetItemAsync(string identity)
    {
        Requests.Count("GetItem", write: false);
        var response = await _client.GetItemAsync(new GetItemRequest
        {
            TableName = TableName,
            Key = Key(ClusterId, identity),
            ConsistentRead = true,
        }).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item ? item : null;
    }

    private async Task QueryAsync(string clusterId, Action<Dictionary<string, AttributeValue>> onItem, bool keysOnly = false)
    {
        Dictionary<string, AttributeValue>? start = null;
        for (int page = 0; page < MaxPages; page++)
        {
            var request = new QueryRequest
            {
                TableName = TableName,
                ConsistentRead = true,
                KeyConditionExpression = "#cluster = :cluster",
                ExpressionAttributeNames = new Dictionary<string, string> { ["#cluster"] = DeploymentIdAttribute },
                ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":cluster"] = new() { S = clusterId } },
                ExclusiveStartKey = start,
            };
            if (keysOnly)
            {
                request.ProjectionExpression = "#cluster, #identity";
                request.ExpressionAttributeNames["#identity"] = SiloIdentityAttribute;
            }
            Requests.Count("Query", write: false);
            var response = await _client.QueryAsync(request).ConfigureAwait(false);
            foreach (var item in response.Items ?? []) onItem(item);
            if (response.LastEvaluatedKey is not { Count: > 0 }) return;
            start = response.LastEvaluatedKey;
        }
        throw new InvalidOperationException($"The query of cluster '{clusterId}' in '{TableName}' did not end after {MaxPages} pages.");
    }

    // ---- Writes ----

    /// <summary>The version row's part of a transaction: +1 on its etag, conditioned on the etag the caller read.</summary>
    private bool TryVersionWrite(TableVersion tableVersion, out TransactWriteItem write)
    {
        if (tableVersion.VersionEtag.Length == 0)
        {
            // The caller read no version row: create it, unless someone else did meanwhile.
            write = new TransactWriteItem
            {
                Put = new Put
                {
                    TableName = TableName,
                    Item = VersionItem(tableVersion.Version, etag: 0),
                    ConditionExpression = "attribute_not_exists(#identity)",
                    ExpressionAttributeNames = new Dictionary<string, string> { ["#identity"] = SiloIdentityAttribute },
                },
            };
            return true;
        }
        if (!TryParseEtag(tableVersion.VersionEtag, out long expected))
        {
            write = null!;
            return false;
        }
        write = new TransactWriteItem
        {
            Update = new Update
            {
                TableName = TableName,
                Key = Key(ClusterId, VersionRowKey),
                UpdateExpression = "SET #version = :version, #etag = :next",
                ConditionExpression = "#etag = :expected",
                ExpressionAttributeNames = new Dictionary<string, string> { ["#version"] = MembershipVersionAttribute, ["#etag"] = ETagAttribute },
                ExpressionAttributeValues = new Dictionary<string, AttributeValue>
                {
                    [":version"] = Number(tableVersion.Version),
                    [":next"] = Number(expected + 1),
                    [":expected"] = Number(expected),
                },
            },
        };
        return true;
    }

    /// <summary>Runs the transaction; false when a condition failed (the caller lost the race).</summary>
    private async Task<bool> TryTransactAsync(List<TransactWriteItem> items)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Requests.Count("TransactWriteItems", write: true);
                await _client.TransactWriteItemsAsync(new TransactWriteItemsRequest { TransactItems = items }).ConfigureAwait(false);
                return true;
            }
            catch (TransactionCanceledException e)
            {
                var codes = e.CancellationReasons?.Select(r => r.Code).ToList() ?? [];
                if (codes.Contains("ConditionalCheckFailed")) return false;
                if (!codes.Contains("TransactionConflict")) throw;
                // Another transaction held one of the items and probably changed it: retry, and the
                // conditions decide. Past the bound, count it as lost; the caller reads again.
                if (attempt == MaxConflictAttempts) return false;
                await Task.Delay(DynamoDBTableSetup.Backoff(attempt)).ConfigureAwait(false);
            }
        }
    }

    // ---- Items ----

    private Dictionary<string, AttributeValue> ToItem(MembershipEntry entry, long etag, int membershipVersion)
    {
        var address = entry.SiloAddress;
        var item = new Dictionary<string, AttributeValue>
        {
            [DeploymentIdAttribute] = new() { S = ClusterId },
            [SiloIdentityAttribute] = new() { S = address.Identity },
            [AddressAttribute] = new() { S = address.Host },
            [PortAttribute] = Number(address.Port),
            [GenerationAttribute] = Number(address.Generation),
            [StatusAttribute] = Number((int)entry.Status),
            [ProxyPortAttribute] = Number(entry.ProxyPort),
            [HttpPortAttribute] = Number(entry.HttpPort),
            [StartTimeAttribute] = Time(entry.StartTime),
            [IAmAliveTimeAttribute] = Time(entry.IAmAliveTime),
            [ETagAttribute] = Number(etag),
            [MembershipVersionAttribute] = Number(membershipVersion),
        };
        // Empty strings are left out (older DynamoDB versions refuse them); a missing attribute reads as "".
        AddString(item, HostNameAttribute, entry.HostName);
        AddString(item, SiloNameAttribute, entry.SiloName);
        AddString(item, RoleNameAttribute, entry.RoleName);
        AddString(item, FaultZoneAttribute, entry.FaultZone);
        if (entry.SuspectTimes.Count > 0)
        {
            foreach (var vote in entry.SuspectTimes)
            {
                if (vote.VoterIdentity.Length == 0 || vote.VoterIdentity.Contains(ListSeparator, StringComparison.Ordinal))
                    throw new ArgumentException($"A suspecting silo's identity '{vote.VoterIdentity}' must be non-empty and free of '{ListSeparator}'.", nameof(entry));
            }
            item[SuspectingSilosAttribute] = new() { S = string.Join(ListSeparator, entry.SuspectTimes.Select(v => v.VoterIdentity)) };
            item[SuspectingTimesAttribute] = new() { S = string.Join(ListSeparator, entry.SuspectTimes.Select(v => FormatTime(v.Time))) };
        }
        return item;
    }

    private static StoredRow ParseRow(Dictionary<string, AttributeValue> item)
    {
        string identity = item.TryGetValue(SiloIdentityAttribute, out var key) ? key.S ?? "?" : "?";
        try
        {
            var entry = new MembershipEntry
            {
                SiloAddress = new SiloAddress(GetString(item, AddressAttribute), checked((int)GetLong(item, PortAttribute)), GetLong(item, GenerationAttribute)),
                Status = (SiloStatus)GetLong(item, StatusAttribute),
                ProxyPort = (int)GetLong(item, ProxyPortAttribute, 0),
                HttpPort = (int)GetLong(item, HttpPortAttribute, 0),
                HostName = GetString(item, HostNameAttribute, ""),
                SiloName = GetString(item, SiloNameAttribute, ""),
                RoleName = GetString(item, RoleNameAttribute, ""),
                FaultZone = GetString(item, FaultZoneAttribute, ""),
                StartTime = ParseTime(GetString(item, StartTimeAttribute)),
                IAmAliveTime = ParseTime(GetString(item, IAmAliveTimeAttribute)),
                SuspectTimes = ParseVotes(GetString(item, SuspectingSilosAttribute, ""), GetString(item, SuspectingTimesAttribute, "")),
            };
            return new StoredRow(entry, GetLong(item, ETagAttribute), GetLong(item, MembershipVersionAttribute, 0));
        }
        catch (Exception e) when (e is FormatException or KeyNotFoundException or OverflowException)
        {
            throw new InvalidDataException($"The membership row '{identity}' is malformed: {e.Message}", e);
        }
    }

    private static List<SuspectVote> ParseVotes(string silos, string times)
    {
        if (silos.Length == 0) return [];
        var voters = silos.Split(ListSeparator);
        var when = times.Split(ListSeparator);
        if (voters.Length != when.Length) throw new FormatException($"{voters.Length} suspecting silos but {when.Length} suspecting times.");
        return voters.Zip(when, (voter, time) => new SuspectVote(voter, ParseTime(time))).ToList();
    }

    private Dictionary<string, AttributeValue> VersionItem(int version, long etag) => new()
    {
        [DeploymentIdAttribute] = new() { S = ClusterId },
        [SiloIdentityAttribute] = new() { S = VersionRowKey },
        [MembershipVersionAttribute] = Number(version),
        [ETagAttribute] = Number(etag),
    };

    private static Dictionary<string, AttributeValue> Key(string clusterId, string identity) => new()
    {
        [DeploymentIdAttribute] = new() { S = clusterId },
        [SiloIdentityAttribute] = new() { S = identity },
    };

    private static bool IsVersionRow(Dictionary<string, AttributeValue> item) =>
        item.TryGetValue(SiloIdentityAttribute, out var key) && key.S == VersionRowKey;

    private static void AddString(Dictionary<string, AttributeValue> item, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value)) item[name] = new AttributeValue { S = value };
    }

    private static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    private static AttributeValue Time(DateTimeOffset value) => new() { S = FormatTime(value) };

    /// <summary>ISO-8601 in UTC with a fixed width, so the strings sort as the times do.</summary>
    private static string FormatTime(DateTimeOffset value) => value.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string value) =>
        DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static string GetString(Dictionary<string, AttributeValue> item, string name, string? fallback = null)
    {
        if (item.TryGetValue(name, out var value) && value.S is not null) return value.S;
        return fallback ?? throw new KeyNotFoundException($"attribute {name} is missing");
    }

    private static long GetLong(Dictionary<string, AttributeValue> item, string name, long? fallback = null)
    {
        if (item.TryGetValue(name, out var value) && value.N is not null) return long.Parse(value.N, NumberStyles.Integer, CultureInfo.InvariantCulture);
        return fallback ?? throw new KeyNotFoundException($"attribute {name} is missing");
    }

    private static string Etag(long etag) => etag.ToString(CultureInfo.InvariantCulture);

    private static bool TryParseEtag(string etag, out long value) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private sealed record StoredRow(MembershipEntry Entry, long ETag, long MembershipVersion);
}

/// <summary>Requests one table sent, by operation, for measuring its load on DynamoDB.</summary>
public sealed class DynamoDBRequestCounts
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _byOperation = new();
    private long _reads;
    private long _writes;

    public long Reads => Interlocked.Read(ref _reads);

    public long Writes => Interlocked.Read(ref _writes);

    public IReadOnlyDictionary<string, long> ByOperation => new SortedDictionary<string, long>(_byOperation);

    internal void Count(string operation, bool write)
    {
        _byOperation.AddOrUpdate(operation, 1, (_, n) => n + 1);
        if (write) Interlocked.Increment(ref _writes);
        else Interlocked.Increment(ref _reads);
    }

    public override string ToString() =>
        $"reads={Reads} writes={Writes} ({string.Join(", ", ByOperation.Select(p => $"{p.Key}={p.Value}"))})";
}
