using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Persistence;

namespace Orleans.Shuffle.Membership.DynamoDB;

/// <summary>
/// Grain storage in DynamoDB, with Orleans.Persistence.DynamoDB's keys (hash key GrainReference =
/// "{clusterId}_{grainId}", range key GrainType) and numeric ETag, plus chunking of states over
/// DynamoDB's 400 KB item limit, which Orleans does not do.
/// <para>
/// The head item (range key = grain type) holds the ETag and either the state itself (GrainState,
/// when it fits one chunk) or the description of a chunked version: a random StateVersion, the
/// ChunkCount, the StateSize and a SHA-256 StateHash. The chunks are items of their own, with range
/// key "{grainType}#chunk#{version}#{index:D6}", and are never changed after they are written.
/// </para>
/// <para>
/// A write stores its chunks under a new version first, then updates the head conditioned on the
/// ETag (attribute_not_exists for the first write), which both publishes the version and takes the
/// next ETag atomically, and only then deletes the chunks of the version it replaced (the head's old
/// values come back with the update). A reader reads the head, then the chunks of the head's version,
/// all with consistent reads; a chunk gone means a writer replaced that version meanwhile, and the
/// reader starts again from the head. A reader therefore sees one version whole or none, never a mix;
/// the hash checks it. A writer that loses the condition deletes its own chunks and throws
/// <see cref="InconsistentStateException"/>; one that fails otherwise leaves them (the head may or may
/// not have been written), and the TTL removes them if they were never published.
/// </para>
/// <para>
/// Clearing leaves a tombstone head (no state, the next ETag) unless DeleteStateOnClear, so ETags
/// keep rising across a clear. Every item written carries the TTL attribute, now + TimeToLive.
/// </para>
/// </summary>
public sealed class DynamoDBGrainStorage : IGrainStorage, IDisposable
{
    internal const string GrainReferenceAttribute = "GrainReference";
    internal const string GrainTypeAttribute = "GrainType";
    internal const string ETagAttribute = "ETag";
    internal const string StateAttribute = "GrainState";
    internal const string VersionAttribute = "StateVersion";
    internal const string ChunkCountAttribute = "ChunkCount";
    internal const string SizeAttribute = "StateSize";
    internal const string HashAttribute = "StateHash";
    internal const string ClearedAttribute = "Cleared";

    /// <summary>Attributes with a meaning here; the TTL attribute may be none of them.</summary>
    public static readonly IReadOnlySet<string> ReservedAttributes = new HashSet<string>(StringComparer.Ordinal)
    {
        GrainReferenceAttribute, GrainTypeAttribute, ETagAttribute, StateAttribute, VersionAttribute,
        ChunkCountAttribute, SizeAttribute, HashAttribute, ClearedAttribute,
    };

    /// <summary>Separates the grain type from the rest of a chunk's range key; grain types cannot contain it.</summary>
    internal const string ChunkMarker = "#chunk#";

    /// <summary>Rounds of reading head and chunks while writers keep replacing the version.</summary>
    private const int MaxReadAttempts = 10;

    /// <summary>Rounds of BatchWriteItem/BatchGetItem for the items DynamoDB left unprocessed.</summary>
    private const int MaxBatchAttempts = 8;

    private const int BatchWriteLimit = 25;

    /// <summary>Keys per BatchGetItem (its limit is 100 keys and 16 MB; more comes back as unprocessed).</summary>
    private const int BatchGetKeys = 32;

    /// <summary>Batch requests of one state in flight at once.</summary>
    private const int BatchParallelism = 4;

    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;
    private readonly DynamoDBClusteringOptions _options;
    private readonly DynamoDBGrainStorageOptions _storage;
    private readonly OnceAsync _initialize;
    private readonly TimeProvider _time;

    /// <summary>The grain storage of <paramref name="clusterId"/> with its own client, built from <paramref name="options"/>.</summary>
    public DynamoDBGrainStorage(DynamoDBClusteringOptions options, string clusterId, TimeProvider? time = null)
        : this(options.CreateClient(), options, clusterId, ownsClient: true, time)
    {
    }

    /// <summary>The grain storage of <paramref name="clusterId"/> over <paramref name="client"/>; disposes it only if <paramref name="ownsClient"/>.</summary>
    public DynamoDBGrainStorage(IAmazonDynamoDB client, DynamoDBClusteringOptions options, string clusterId, bool ownsClient = false, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        var problems = (options.GrainStorage ?? new()).Validate("GrainStorage").ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join(" ", problems), nameof(options));
        _client = client;
        _options = options;
        _storage = options.GrainStorage ?? new();
        _ownsClient = ownsClient;
        _time = time ?? TimeProvider.System;
        ClusterId = clusterId;
        _initialize = new OnceAsync(() => DynamoDBTableSetup.EnsureAsync(_client, _options, Spec, Requests));
    }

    public string ClusterId { get; }

    public string TableName => _storage.TableName;

    /// <summary>Requests this storage has sent (each SDK call once, whatever the SDK retried).</summary>
    public DynamoDBRequestCounts Requests { get; } = new();

    private DynamoDBTableSpec Spec => new(
        TableName, GrainReferenceAttribute, GrainTypeAttribute, "grain storage", "Membership:DynamoDB:GrainStorage", _storage.EffectiveTimeToLiveAttribute,
        "GetItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem, DescribeTimeToLive and UpdateTimeToLive");

    /// <summary>
    /// Creates the table when it is missing and waits until it is ACTIVE, with TTL on. A silo runs it
    /// at start-up; the other methods run it first if nobody did. Failures are InvalidOperationExceptions
    /// that say what to fix.
    /// </summary>
    public Task InitializeAsync() => _initialize.RunAsync();

    public async Task<StoredState?> ReadStateAsync(string grainType, string grainId)
    {
        CheckIds(grainType, grainId);
        await EnsureInitializedAsync().ConfigureAwait(false);
        string reference = Reference(grainId);

        Head? previous = null;
        for (int attempt = 1; ; attempt++)
        {
            var item = await GetHeadAsync(reference, grainType).ConfigureAwait(false);
            if (item is null) return null;
            var head = ParseHead(item, grainType, grainId);
            if (head.Cleared) return null;
            if (head.Inline is not null) return new StoredState(head.Inline, Etag(head.ETag));

            var data = await ReadChunksAsync(reference, grainType, head).ConfigureAwait(false);
            if (data is not null)
            {
                if (!SHA256.HashData(data).AsSpan().SequenceEqual(head.Hash))
                    throw new InvalidDataException($"The stored state of {grainType}/{grainId} (version {head.Version}) does not match its hash: it is corrupt.");
                return new StoredState(data, Etag(head.ETag));
            }

            // A chunk is gone: a writer replaced this version after the head was read, or the items
            // expired. Read the head again; the same head twice with a chunk missing is not a race.
            if (previous is not null && previous.Version == head.Version && previous.ETag == head.ETag)
            {
                if (head.ExpiresAt is { } expires && expires <= _time.GetUtcNow().ToUnixTimeSeconds()) return null;
                throw new InvalidDataException($"The stored state of {grainType}/{grainId} (version {head.Version}, etag {head.ETag}) is missing chunks in '{TableName}'.");
            }
            if (attempt == MaxReadAttempts)
                throw new InvalidOperationException($"The state of {grainType}/{grainId} changed under {MaxReadAttempts} reads in a row; try again.");
            previous = head;
        }
    }

    public async Task<string> WriteStateAsync(string grainType, string grainId, ReadOnlyMemory<byte> data, string? expectedETag)
    {
        CheckIds(grainType, grainId);
        if (data.Length > _storage.MaxStateSize)
            throw new ArgumentException($"The state of {grainType}/{grainId} is {data.Length} bytes, over Membership:DynamoDB:GrainStorage:MaxStateSize ({_storage.MaxStateSize}).", nameof(data));
        long? expected = ParseExpected(expectedETag, grainType, grainId);
        await EnsureInitializedAsync().ConfigureAwait(false);
        string reference = Reference(grainId);
        long? expiresAt = ExpiresAt();

        var x = new DynamoDBExpression();
        var set = new List<string> { $"{x.Name(ETagAttribute)} = if_not_exists({x.Name(ETagAttribute)}, {x.Value(0)}) + {x.Value(1)}" };
        var remove = new List<string> { x.Name(ClearedAttribute) };
        Head? written = null;
        if (data.Length <= _storage.ChunkSize)
        {
            set.Add($"{x.Name(StateAttribute)} = {x.Value(new AttributeValue { B = new MemoryStream(data.ToArray(), writable: false) })}");
            remove.AddRange([x.Name(VersionAttribute), x.Name(ChunkCountAttribute), x.Name(SizeAttribute), x.Name(HashAttribute)]);
        }
        else
        {
            var hash = SHA256.HashData(data.Span);
            written = new Head(0, null, NewVersion(), (data.Length + _storage.ChunkSize - 1) / _storage.ChunkSize, data.Length, hash, false, expiresAt);
            await PutChunksAsync(reference, grainType, written, data).ConfigureAwait(false);
            set.Add($"{x.Name(VersionAttribute)} = {x.Value(written.Version!)}");
            set.Add($"{x.Name(ChunkCountAttribute)} = {x.Value(written.ChunkCount)}");
            set.Add($"{x.Name(SizeAttribute)} = {x.Value(written.Size)}");
            set.Add($"{x.Name(HashAttribute)} = {x.Value(new AttributeValue { B = new MemoryStream(hash, writable: false) })}");
            remove.Add(x.Name(StateAttribute));
        }
        AddTimeToLive(x, set, remove, expiresAt);

        string condition = expected is null
            ? $"attribute_not_exists({x.Name(GrainReferenceAttribute)}) OR attribute_exists({x.Name(ClearedAttribute)})"
            : $"{x.Name(ETagAttribute)} = {x.Value(expected.Value)} AND attribute_not_exists({x.Name(ClearedAttribute)})";

        UpdateItemResponse response;
        try
        {
            response = await UpdateHeadAsync(reference, grainType, x, set, remove, condition).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // Never published: nobody reads these chunks.
            if (written is not null) await TryDeleteChunksAsync(reference, grainType, written).ConfigureAwait(false);
            throw new InconsistentStateException(
                $"State of {grainType}/{grainId} in DynamoDB table '{TableName}' no longer has etag {expectedETag ?? "none"}: another activation wrote it.");
        }

        var old = response.Attributes is { Count: > 0 } attributes ? ParseHead(attributes, grainType, grainId) : null;
        if (old is { Version: not null } && old.Version != written?.Version) await TryDeleteChunksAsync(reference, grainType, old).ConfigureAwait(false);
        return Etag((old?.ETag ?? 0) + 1);
    }

    public async Task ClearStateAsync(string grainType, string grainId, string? expectedETag)
    {
        CheckIds(grainType, grainId);
        long? expected = ParseExpected(expectedETag, grainType, grainId);
        await EnsureInitializedAsync().ConfigureAwait(false);
        string reference = Reference(grainId);

        if (expected is null)
        {
            // Clearing "no state": nothing to do, unless there is a state after all.
            var item = await GetHeadAsync(reference, grainType).ConfigureAwait(false);
            if (item is not null && !ParseHead(item, grainType, grainId).Cleared)
            {
                throw new InconsistentStateException(
                    $"State of {grainType}/{grainId} in DynamoDB table '{TableName}' exists, but the clear expected none: another activation wrote it.");
            }
            return;
        }

        var x = new DynamoDBExpression();
        string condition = $"{x.Name(ETagAttribute)} = {x.Value(expected.Value)} AND attribute_not_exists({x.Name(ClearedAttribute)})";
        Dictionary<string, AttributeValue>? oldItem;
        try
        {
            if (_storage.DeleteStateOnClear)
            {
                Requests.Count("DeleteItem", write: true);
                var deleted = await _client.DeleteItemAsync(new DeleteItemRequest
                {
                    TableName = TableName,
                    Key = Key(reference, grainType),
                    ConditionExpression = condition,
                    ExpressionAttributeNames = x.NamesOrNull,
                    ExpressionAttributeValues = x.ValuesOrNull,
                    ReturnValues = ReturnValue.ALL_OLD,
                }).ConfigureAwait(false);
                oldItem = deleted.Attributes;
            }
            else
            {
                var set = new List<string>
                {
                    $"{x.Name(ETagAttribute)} = {x.Name(ETagAttribute)} + {x.Value(1)}",
                    $"{x.Name(ClearedAttribute)} = {x.Value(new AttributeValue { BOOL = true })}",
                };
                var remove = new List<string> { x.Name(StateAttribute), x.Name(VersionAttribute), x.Name(ChunkCountAttribute), x.Name(SizeAttribute), x.Name(HashAttribute) };
                AddTimeToLive(x, set, remove, ExpiresAt());
                var updated = await UpdateHeadAsync(reference, grainType, x, set, remove, condition).ConfigureAwait(false);
                oldItem = updated.Attributes;
            }
        }
        catch (ConditionalCheckFailedException)
        {
            throw new InconsistentStateException(
                $"State of {grainType}/{grainId} in DynamoDB table '{TableName}' no longer has etag {expectedETag}: another activation wrote it.");
        }

        if (oldItem is { Count: > 0 } && ParseHead(oldItem, grainType, grainId) is { Version: not null } old)
            await TryDeleteChunksAsync(reference, grainType, old).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }

    // ---- Keys and items ----

    internal string Reference(string grainId) => $"{ClusterId}_{grainId}";

    internal static string ChunkKey(string grainType, string version, int index) =>
        $"{grainType}{ChunkMarker}{version}#{index.ToString("D6", CultureInfo.InvariantCulture)}";

    /// <summary>Conditionally updates the head item; returns the head as it was before.</summary>
    private Task<UpdateItemResponse> UpdateHeadAsync(
        string reference, string grainType, DynamoDBExpression x, List<string> set, List<string> remove, string condition)
    {
        Requests.Count("UpdateItem", write: true);
        return _client.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = TableName,
            Key = Key(reference, grainType),
            UpdateExpression = $"SET {string.Join(", ", set)} REMOVE {string.Join(", ", remove)}",
            ConditionExpression = condition,
            ExpressionAttributeNames = x.NamesOrNull,
            ExpressionAttributeValues = x.ValuesOrNull,
            ReturnValues = ReturnValue.ALL_OLD,
        });
    }

    private static Dictionary<string, AttributeValue> Key(string reference, string rangeKey) => new()
    {
        [GrainReferenceAttribute] = new() { S = reference },
        [GrainTypeAttribute] = new() { S = rangeKey },
    };

    private static void CheckIds(string grainType, string grainId)
    {
        // The grain type is the head's range key and prefixes the chunks': it may not contain '#'.
        if (!IdValidator.IsValidAppId(grainType) || !IdValidator.IsValidAppId(grainId))
            throw new ArgumentException($"Invalid grain type or id: {grainType}/{grainId}.");
    }

    private static long? ParseExpected(string? expectedETag, string grainType, string grainId)
    {
        if (expectedETag is null) return null;
        if (long.TryParse(expectedETag, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return value;
        // No stored state has it: the condition could only fail.
        throw new InconsistentStateException($"State of {grainType}/{grainId}: '{expectedETag}' is not an etag of the DynamoDB grain storage.");
    }

    private static string NewVersion() => Guid.NewGuid().ToString("N");

    private long? ExpiresAt() => _storage.TimeToLive > TimeSpan.Zero
        ? (_time.GetUtcNow() + _storage.TimeToLive).ToUnixTimeSeconds()
        : null;

    private void AddTimeToLive(DynamoDBExpression x, List<string> set, List<string> remove, long? expiresAt)
    {
        if (expiresAt is { } at) set.Add($"{x.Name(_storage.TimeToLiveAttribute)} = {x.Value(at)}");
        // Expiry turned off since the item was written: it must not expire on the old clock.
        else if (!string.IsNullOrEmpty(_storage.TimeToLiveAttribute) && !ReservedAttributes.Contains(_storage.TimeToLiveAttribute)) remove.Add(x.Name(_storage.TimeToLiveAttribute));
    }

    private Head ParseHead(Dictionary<string, AttributeValue> item, string grainType, string grainId)
    {
        try
        {
            long etag = GetLong(item, ETagAttribute) ?? throw new KeyNotFoundException($"attribute {ETagAttribute} is missing");
            bool cleared = item.TryGetValue(ClearedAttribute, out var c) && c.BOOL == true;
            long? expires = _storage.EffectiveTimeToLiveAttribute is { } ttl ? GetLong(item, ttl) : null;
            if (cleared) return new Head(etag, null, null, 0, 0, [], true, expires);
            if (item.TryGetValue(StateAttribute, out var state) && state.B is not null)
                return new Head(etag, Bytes(state.B), null, 0, state.B.Length, [], false, expires);
            string version = item.TryGetValue(VersionAttribute, out var v) && v.S is { Length: > 0 } ? v.S : throw new KeyNotFoundException($"attribute {VersionAttribute} is missing");
            int count = checked((int)(GetLong(item, ChunkCountAttribute) ?? throw new KeyNotFoundException($"attribute {ChunkCountAttribute} is missing")));
            long size = GetLong(item, SizeAttribute) ?? throw new KeyNotFoundException($"attribute {SizeAttribute} is missing");
            byte[] hash = item.TryGetValue(HashAttribute, out var h) && h.B is not null ? Bytes(h.B) : throw new KeyNotFoundException($"attribute {HashAttribute} is missing");
            if (count < 1 || size < 0 || size > int.MaxValue) throw new FormatException($"{count} chunks of {size} bytes");
            return new Head(etag, null, version, count, size, hash, false, expires);
        }
        catch (Exception e) when (e is FormatException or KeyNotFoundException or OverflowException)
        {
            throw new InvalidDataException($"The stored state of {grainType}/{grainId} in '{TableName}' is malformed: {e.Message}", e);
        }
    }

    private static long? GetLong(Dictionary<string, AttributeValue> item, string name) =>
        item.TryGetValue(name, out var value) && value.N is not null ? long.Parse(value.N, NumberStyles.Integer, CultureInfo.InvariantCulture) : null;

    private static byte[] Bytes(MemoryStream stream) => stream.ToArray();

    private static string Etag(long etag) => etag.ToString(CultureInfo.InvariantCulture);

    // ---- Reads ----

    private async Task<Dictionary<string, AttributeValue>?> GetHeadAsync(string reference, string grainType)
    {
        Requests.Count("GetItem", write: false);
        var response = await _client.GetItemAsync(new GetItemRequest
        {
            TableName = TableName,
            Key = Key(reference, grainType),
            ConsistentRead = true,
        }).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item ? item : null;
    }

    /// <summary>The chunks of <paramref name="head"/>'s version put together, or null when one is missing.</summary>
    private async Task<byte[]?> ReadChunksAsync(string reference, string grainType, Head head)
    {
        var chunks = new byte[]?[head.ChunkCount];
        var groups = Enumerable.Range(0, head.ChunkCount).Chunk(BatchGetKeys).ToList();
        bool missing = false;
        await Parallel.ForEachAsync(groups, new ParallelOptions { MaxDegreeOfParallelism = BatchParallelism }, async (group, _) =>
        {
            var byKey = group.ToDictionary(i => ChunkKey(grainType, head.Version!, i), StringComparer.Ordinal);
            var pending = new KeysAndAttributes
            {
                Keys = byKey.Keys.Select(k => Key(reference, k)).ToList(),
                ConsistentRead = true,
            };
            for (int attempt = 0; pending?.Keys is { Count: > 0 }; attempt++)
            {
                if (attempt == MaxBatchAttempts)
                    throw new InvalidOperationException($"DynamoDB left chunks of {grainType} '{reference}' in '{TableName}' unread after {MaxBatchAttempts} rounds (throttled).");
                if (attempt > 0) await Task.Delay(DynamoDBTableSetup.Backoff(attempt)).ConfigureAwait(false);
                Requests.Count("BatchGetItem", write: false);
                var response = await _client.BatchGetItemAsync(new BatchGetItemRequest
                {
                    RequestItems = new Dictionary<string, KeysAndAttributes> { [TableName] = pending },
                }).ConfigureAwait(false);
                if (response.Responses is not null && response.Responses.TryGetValue(TableName, out var items))
                {
                    foreach (var item in items)
                    {
                        if (item.TryGetValue(GrainTypeAttribute, out var key) && key.S is not null && byKey.TryGetValue(key.S, out int index)
                            && item.TryGetValue(StateAttribute, out var data) && data.B is not null)
                        {
                            chunks[index] = Bytes(data.B);
                        }
                    }
                }
                pending = response.UnprocessedKeys is not null && response.UnprocessedKeys.TryGetValue(TableName, out var left) ? left : null;
                if (pending is not null) pending.ConsistentRead = true;
            }
            if (group.Any(i => chunks[i] is null)) missing = true;
        }).ConfigureAwait(false);
        if (missing) return null;

        long total = chunks.Sum(c => (long)c!.Length);
        if (total != head.Size) return null; // not this version's chunks after all: read again, then report
        var result = new byte[head.Size];
        int offset = 0;
        foreach (var chunk in chunks)
        {
            chunk!.CopyTo(result, offset);
            offset += chunk!.Length;
        }
        return result;
    }

    // ---- Chunk writes ----

    private async Task PutChunksAsync(string reference, string grainType, Head head, ReadOnlyMemory<byte> data)
    {
        var array = MemoryMarshal.TryGetArray(data, out var segment) && segment.Array is not null
            ? segment
            : new ArraySegment<byte>(data.ToArray());
        int chunkSize = _storage.ChunkSize;
        var requests = Enumerable.Range(0, head.ChunkCount).Select(index =>
        {
            int offset = index * chunkSize;
            int length = Math.Min(chunkSize, data.Length - offset);
            var item = Key(reference, ChunkKey(grainType, head.Version!, index));
            item[StateAttribute] = new AttributeValue { B = new MemoryStream(array.Array!, array.Offset + offset, length, writable: false, publiclyVisible: true) };
            if (head.ExpiresAt is { } expires) item[_storage.TimeToLiveAttribute] = new AttributeValue { N = expires.ToString(CultureInfo.InvariantCulture) };
            return new WriteRequest { PutRequest = new PutRequest { Item = item } };
        });
        await BatchWriteAsync(requests, grainType, reference).ConfigureAwait(false);
    }

    /// <summary>Deletes the chunks of <paramref name="head"/>'s version, best effort: what is left expires with the TTL.</summary>
    private async Task TryDeleteChunksAsync(string reference, string grainType, Head head)
    {
        try
        {
            var requests = Enumerable.Range(0, head.ChunkCount).Select(index =>
                new WriteRequest { DeleteRequest = new DeleteRequest { Key = Key(reference, ChunkKey(grainType, head.Version!, index)) } });
            await BatchWriteAsync(requests, grainType, reference).ConfigureAwait(false);
        }
        catch (Exception e) when (DynamoDBTableSetup.IsAwsOrNetworkFailure(e) || e is InvalidOperationException)
        {
            // Unreachable for readers (no head names this version any more); the TTL removes them.
        }
    }

    private async Task BatchWriteAsync(IEnumerable<WriteRequest> requests, string grainType, string reference)
    {
        var batches = requests.Chunk(BatchWriteLimit).ToList();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = BatchParallelism }, async (batch, _) =>
        {
            var pending = new Dictionary<string, List<WriteRequest>> { [TableName] = batch.ToList() };
            for (int attempt = 0; pending.Count > 0; attempt++)
            {
                if (attempt == MaxBatchAttempts)
                    throw new InvalidOperationException($"DynamoDB left chunks of {grainType} '{reference}' in '{TableName}' unwritten after {MaxBatchAttempts} rounds (throttled).");
                if (attempt > 0) await Task.Delay(DynamoDBTableSetup.Backoff(attempt)).ConfigureAwait(false);
                Requests.Count("BatchWriteItem", write: true);
                var response = await _client.BatchWriteItemAsync(new BatchWriteItemRequest { RequestItems = pending }).ConfigureAwait(false);
                pending = response.UnprocessedItems?.Where(p => p.Value is { Count: > 0 }).ToDictionary() ?? [];
            }
        }).ConfigureAwait(false);
    }

    private Task EnsureInitializedAsync() => _initialize.Succeeded ? Task.CompletedTask : _initialize.RunAsync();

    /// <summary>A head item: the ETag and the state inline, or the chunked version it names, or a tombstone.</summary>
    private sealed record Head(long ETag, byte[]? Inline, string? Version, int ChunkCount, long Size, byte[] Hash, bool Cleared, long? ExpiresAt);
}
