using System.Security.Cryptography;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Shuffle.AWSUtils;
using Orleans.Storage;

namespace Orleans.Shuffle.Persistence.DynamoDB;

/// <summary>
/// Orleans grain storage in DynamoDB, on Orleans.Persistence.DynamoDB's table, keys and ETag protocol
/// (see <see cref="GrainStateItem"/>), plus chunking of states over DynamoDB's 400 KB item limit.
/// <para>
/// A state that fits <see cref="DynamoDBGrainStorageOptions.ChunkSize"/> is the official record. A
/// larger one is written as chunk items under a new random version first; then the head is updated,
/// conditioned on the ETag (on its absence for a first write), which publishes the version and takes
/// the next ETag in one step; only then are the chunks of the version it replaced deleted (the head's
/// old values come back with the update). A reader reads the head, then the chunks of the head's
/// version, all with consistent reads; a chunk gone means a writer replaced the version meanwhile,
/// and the reader starts again from the head. So a reader sees one version whole or none, never a
/// mix, and the SHA-256 in the head proves it. A writer that loses the condition deletes its own
/// chunks and throws <see cref="InconsistentStateException"/>; one that fails otherwise leaves them
/// to the TTL (they were never published, or the head names them).
/// </para>
/// <para>
/// ETags are Orleans': 0 for the first write, then + 1. Clearing writes a cleared record (GrainState
/// NULL, the next ETag), or deletes the items with DeleteStateOnClear. Every item written carries
/// GrainTtl = now + TimeToLive.
/// </para>
/// </summary>
public sealed partial class DynamoDBGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>Rounds of reading head and chunks while writers keep replacing the version.</summary>
    private const int MaxReadAttempts = 10;

    private readonly DynamoDBTableClient _table;
    private readonly DynamoDBGrainStorageOptions _options;
    private readonly IActivatorProvider _activators;
    private readonly GrainStateChunks _chunks;
    private readonly InitializeOnce _initialize;

    /// <summary>The storage named <paramref name="name"/>, with a client of its own made from the options (how a silo gets it).</summary>
    [ActivatorUtilitiesConstructor]
    public DynamoDBGrainStorage(
        string name, DynamoDBGrainStorageOptions options, IOptions<ClusterOptions> cluster, IActivatorProvider activators,
        ILogger<DynamoDBGrainStorage> logger, TimeProvider time)
        : this(DynamoDBTableClient.Create(options, TableDefinition(name, options), logger, time), name, options, cluster.Value.ServiceId, activators)
    {
    }

    /// <summary>The storage named <paramref name="name"/> of service <paramref name="serviceId"/> over <paramref name="client"/>, which the caller keeps and disposes.</summary>
    public DynamoDBGrainStorage(
        IAmazonDynamoDB client, string name, DynamoDBGrainStorageOptions options, string serviceId, IActivatorProvider activators,
        ILogger<DynamoDBGrainStorage>? logger = null, TimeProvider? time = null)
        : this(DynamoDBTableClient.Over(client, DynamoDBOptionsValidator<DynamoDBGrainStorageOptions>.Check(options, SectionName(name)), TableDefinition(name, options), logger, time),
               name, options, serviceId, activators)
    {
    }

    private DynamoDBGrainStorage(DynamoDBTableClient table, string name, DynamoDBGrainStorageOptions options, string serviceId, IActivatorProvider activators)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        ArgumentNullException.ThrowIfNull(activators);
        if (options.GrainStorageSerializer is null)
            throw new OrleansConfigurationException($"{SectionName(name)}:GrainStorageSerializer is not set (a silo sets it from its IGrainStorageSerializer).");
        _table = table;
        _options = options;
        _activators = activators;
        Name = name;
        ServiceId = serviceId;
        _chunks = new GrainStateChunks(table);
        _initialize = new InitializeOnce(table.EnsureTableAsync);
    }

    /// <summary>The provider's name, as grains name it in [PersistentState(stateName, storageName)].</summary>
    public string Name { get; }

    /// <summary>Orleans' ServiceId, the first part of every key.</summary>
    public string ServiceId { get; }

    public string TableName => _table.TableName;

    /// <summary>Requests this storage has sent.</summary>
    public DynamoDBRequestCounts Requests => _table.Requests;

    private DynamoDBTableDefinition Definition => _table.Definition;

    /// <summary>Where the settings of storage <paramref name="name"/> are named in messages.</summary>
    public static string SectionName(string name) => $"DynamoDBGrainStorage:{name}";

    /// <summary>The table as Orleans.Persistence.DynamoDB creates it: string keys GrainReference and GrainType, TTL on GrainTtl.</summary>
    private static DynamoDBTableDefinition TableDefinition(string name, DynamoDBGrainStorageOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        return new DynamoDBTableDefinition
        {
            TableName = options.TableName,
            HashKey = new DynamoDBKeyAttribute(GrainStateItem.GrainReference, ScalarAttributeType.S),
            RangeKey = new DynamoDBKeyAttribute(GrainStateItem.GrainType, ScalarAttributeType.S),
            TimeToLiveAttribute = options.TimeToLive is null ? null : GrainStateItem.GrainTtl,
            Purpose = "grain storage",
            Section = SectionName(name),
            Operations = "GetItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem, DescribeTimeToLive and UpdateTimeToLive",
        };
    }

    /// <summary>
    /// Creates the table when it is missing and waits until it is ACTIVE, with TTL on. A silo runs it at
    /// <see cref="DynamoDBGrainStorageOptions.InitStage"/>; the other methods run it first if nobody did.
    /// Failures are <see cref="InvalidOperationException"/>s that say what to fix.
    /// </summary>
    public Task InitializeAsync(CancellationToken cancellationToken = default) => _initialize.RunAsync(cancellationToken);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe($"{nameof(DynamoDBGrainStorage)}-{Name}", _options.InitStage, InitializeAsync, _ => Task.CompletedTask);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken = default)
    {
        string reference = GrainStateItem.Reference(ServiceId, grainId);
        GrainStateItem.CheckStateName(stateName);
        await InitializeAsync(cancellationToken).ConfigureAwait(false);

        var stored = await ReadStoredAsync(reference, stateName, grainId, cancellationToken).ConfigureAwait(false);
        if (stored is not { } found)
        {
            Reset(grainState, etag: null);
            return;
        }
        if (found.Data is not { Length: > 0 } data)
        {
            Reset(grainState, DynamoDBValues.Etag(found.Head.ETag));
            return;
        }
        T? state = Deserialize<T>(data, stateName, grainId);
        grainState.State = state ?? Create<T>();
        grainState.RecordExists = state is not null;
        grainState.ETag = DynamoDBValues.Etag(found.Head.ETag);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken = default)
    {
        string reference = GrainStateItem.Reference(ServiceId, grainId);
        GrainStateItem.CheckStateName(stateName);
        var data = _options.GrainStorageSerializer.Serialize(grainState.State).ToMemory();
        if (data.Length > _options.MaxStateSize)
            throw new ArgumentException($"State {stateName} of {grainId} is {data.Length} bytes serialized, over {Definition.Section}:MaxStateSize ({_options.MaxStateSize}).", nameof(grainState));
        long? expected = ParseExpected(grainState.ETag, stateName, grainId);
        long next = expected is null ? 0 : expected.Value + 1;
        await InitializeAsync(cancellationToken).ConfigureAwait(false);

        long? expiresAt = ExpiresAt();
        var x = new DynamoDBExpression();
        var set = new List<string> { $"{x.Name(GrainStateItem.ETag)} = {x.Value(next)}" };
        var remove = new List<string>();
        ChunkedVersion? written = null;
        if (data.Length <= _options.ChunkSize)
        {
            // As Orleans writes it: an empty state is a NULL.
            var value = data.Length > 0 ? new AttributeValue { B = new MemoryStream(data.ToArray(), writable: false) } : new AttributeValue { NULL = true };
            set.Add($"{x.Name(GrainStateItem.GrainState)} = {x.Value(value)}");
            remove.AddRange(GrainStateItem.ChunkAttributes.Select(x.Name));
        }
        else
        {
            written = new ChunkedVersion(GrainStateChunks.NewVersion(), (data.Length + _options.ChunkSize - 1) / _options.ChunkSize, data.Length, SHA256.HashData(data.Span));
            await _chunks.PutAsync(reference, stateName, written, data, _options.ChunkSize, expiresAt, cancellationToken).ConfigureAwait(false);
            set.Add($"{x.Name(GrainStateItem.StateVersion)} = {x.Value(written.Version)}");
            set.Add($"{x.Name(GrainStateItem.ChunkCount)} = {x.Value(written.ChunkCount)}");
            set.Add($"{x.Name(GrainStateItem.StateSize)} = {x.Value(written.Size)}");
            set.Add($"{x.Name(GrainStateItem.StateHash)} = {x.Value(new AttributeValue { B = new MemoryStream(written.Hash, writable: false) })}");
            remove.Add(x.Name(GrainStateItem.GrainState));
        }
        AddTimeToLive(x, set, remove, expiresAt);

        string condition = expected is null
            ? $"attribute_not_exists({x.Name(GrainStateItem.GrainReference)})"
            : $"{x.Name(GrainStateItem.ETag)} = {x.Value(expected.Value)}";
        Head? old;
        try
        {
            old = await UpdateHeadAsync(reference, stateName, x, set, remove, condition, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException e)
        {
            // Never published: nobody reads these chunks.
            if (written is not null) await _chunks.TryDeleteAsync(reference, stateName, written, CancellationToken.None).ConfigureAwait(false);
            throw Conflict(stateName, grainId, grainState.ETag, e);
        }

        if (old?.Chunks is { } replaced && replaced.Version != written?.Version)
            await _chunks.TryDeleteAsync(reference, stateName, replaced, cancellationToken).ConfigureAwait(false);
        grainState.ETag = DynamoDBValues.Etag(next);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken = default)
    {
        string reference = GrainStateItem.Reference(ServiceId, grainId);
        GrainStateItem.CheckStateName(stateName);
        long? expected = ParseExpected(grainState.ETag, stateName, grainId);
        await InitializeAsync(cancellationToken).ConfigureAwait(false);

        if (expected is null)
        {
            // The caller saw no record: true if there is none, or only a cleared one; a state is a conflict.
            var head = await ReadHeadAsync(reference, stateName, cancellationToken).ConfigureAwait(false);
            if (head is { HasState: true })
                throw new InconsistentStateException($"State {stateName} of {grainId} exists in DynamoDB table '{TableName}', but the clear expected none: another activation wrote it.", DynamoDBValues.Etag(head.ETag), "none");
            Reset(grainState, head is null ? null : DynamoDBValues.Etag(head.ETag));
            return;
        }

        var x = new DynamoDBExpression();
        string condition = $"{x.Name(GrainStateItem.ETag)} = {x.Value(expected.Value)}";
        Head? old;
        try
        {
            if (_options.DeleteStateOnClear)
            {
                old = await DeleteHeadAsync(reference, stateName, x, condition, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var set = new List<string>
                {
                    $"{x.Name(GrainStateItem.ETag)} = {x.Value(expected.Value + 1)}",
                    $"{x.Name(GrainStateItem.GrainState)} = {x.Value(new AttributeValue { NULL = true })}",
                };
                var remove = GrainStateItem.ChunkAttributes.Select(x.Name).ToList();
                AddTimeToLive(x, set, remove, ExpiresAt());
                old = await UpdateHeadAsync(reference, stateName, x, set, remove, condition, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ConditionalCheckFailedException e)
        {
            throw Conflict(stateName, grainId, grainState.ETag, e);
        }

        if (old?.Chunks is { } replaced) await _chunks.TryDeleteAsync(reference, stateName, replaced, cancellationToken).ConfigureAwait(false);
        Reset(grainState, _options.DeleteStateOnClear ? null : DynamoDBValues.Etag(expected.Value + 1));
    }

    public void Dispose() => _table.Dispose();

    Task IGrainStorage.ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    Task IGrainStorage.WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    Task IGrainStorage.ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    // ---- Reads ----

    private async Task<Head?> ReadHeadAsync(string reference, string stateName, CancellationToken cancellationToken) =>
        await _table.GetItemAsync(GrainStateItem.Key(reference, stateName), cancellationToken).ConfigureAwait(false) is { } item
            ? ParseHead(item, reference, stateName)
            : null;

    /// <summary>The head and the bytes of the state it names (null when cleared), or null when there is no record.</summary>
    private async Task<(Head Head, byte[]? Data)?> ReadStoredAsync(string reference, string stateName, GrainId grainId, CancellationToken cancellationToken)
    {
        Head? previous = null;
        for (int attempt = 1; ; attempt++)
        {
            var head = await ReadHeadAsync(reference, stateName, cancellationToken).ConfigureAwait(false);
            if (head is null) return null;
            if (head.Chunks is not { } version) return (head, head.Inline);

            var data = await _chunks.ReadAsync(reference, stateName, version, cancellationToken).ConfigureAwait(false);
            if (data is not null)
            {
                if (!SHA256.HashData(data).AsSpan().SequenceEqual(version.Hash))
                    throw new InvalidDataException($"State {stateName} of {grainId} (version {version.Version}) in DynamoDB table '{TableName}' does not match its SHA-256: it is corrupt.");
                return (head, data);
            }

            // A chunk is gone: a writer replaced this version after the head was read, or the items expired.
            // Read the head again; the same head twice with a chunk missing is not a race.
            if (previous is not null && previous.ETag == head.ETag && previous.Chunks?.Version == version.Version)
            {
                // Past its TTL DynamoDB deletes the items in any order: a torn state is an expired one.
                if (head.ExpiresAt is { } expires && expires <= _table.Time.GetUtcNow().ToUnixTimeSeconds()) return (head, null);
                throw new InvalidDataException($"State {stateName} of {grainId} (version {version.Version}, etag {head.ETag}) in DynamoDB table '{TableName}' is missing chunks.");
            }
            if (attempt == MaxReadAttempts)
                throw new InvalidOperationException($"State {stateName} of {grainId} changed under {MaxReadAttempts} reads in a row; try again.");
            LogVersionReplacedDuringRead(_table.Logger, stateName, grainId, version.Version);
            previous = head;
        }
    }

    private Head ParseHead(Dictionary<string, AttributeValue> item, string reference, string stateName)
    {
        try
        {
            return GrainStateItem.ParseHead(item);
        }
        catch (Exception e) when (e is FormatException or KeyNotFoundException or OverflowException)
        {
            throw new InvalidDataException($"The record of state {stateName} of '{reference}' in DynamoDB table '{TableName}' is malformed: {e.Message}", e);
        }
    }

    private T? Deserialize<T>(byte[] data, string stateName, GrainId grainId)
    {
        try
        {
            return _options.GrainStorageSerializer.Deserialize<T>(new BinaryData(data));
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"State {stateName} of {grainId} in DynamoDB table '{TableName}' ({data.Length} bytes) does not deserialize as {typeof(T)}: {e.Message}", e);
        }
    }

    // ---- Writes ----

    /// <summary>Conditionally updates the head item; returns the head as it was before (null when there was none).</summary>
    private async Task<Head?> UpdateHeadAsync(
        string reference, string stateName, DynamoDBExpression x, List<string> set, List<string> remove, string condition, CancellationToken cancellationToken)
    {
        Requests.Count("UpdateItem", write: true);
        var response = await _table.Client.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = TableName,
            Key = GrainStateItem.Key(reference, stateName),
            UpdateExpression = $"SET {string.Join(", ", set)}" + (remove.Count > 0 ? $" REMOVE {string.Join(", ", remove)}" : ""),
            ConditionExpression = condition,
            ExpressionAttributeNames = x.NamesOrNull,
            ExpressionAttributeValues = x.ValuesOrNull,
            ReturnValues = ReturnValue.ALL_OLD,
            ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure.ALL_OLD,
        }, cancellationToken).ConfigureAwait(false);
        return response.Attributes is { Count: > 0 } attributes ? ParseHead(attributes, reference, stateName) : null;
    }

    /// <summary>Conditionally deletes the head item; returns it as it was (null when there was none).</summary>
    private async Task<Head?> DeleteHeadAsync(string reference, string stateName, DynamoDBExpression x, string condition, CancellationToken cancellationToken)
    {
        Requests.Count("DeleteItem", write: true);
        var response = await _table.Client.DeleteItemAsync(new DeleteItemRequest
        {
            TableName = TableName,
            Key = GrainStateItem.Key(reference, stateName),
            ConditionExpression = condition,
            ExpressionAttributeNames = x.NamesOrNull,
            ExpressionAttributeValues = x.ValuesOrNull,
            ReturnValues = ReturnValue.ALL_OLD,
            ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure.ALL_OLD,
        }, cancellationToken).ConfigureAwait(false);
        return response.Attributes is { Count: > 0 } attributes ? ParseHead(attributes, reference, stateName) : null;
    }

    private long? ExpiresAt() => _options.TimeToLive is { } ttl ? (_table.Time.GetUtcNow() + ttl).ToUnixTimeSeconds() : null;

    private static void AddTimeToLive(DynamoDBExpression x, List<string> set, List<string> remove, long? expiresAt)
    {
        if (expiresAt is { } at) set.Add($"{x.Name(GrainStateItem.GrainTtl)} = {x.Value(at)}");
        // Expiry turned off since the item was written: it must not expire on the old clock.
        else remove.Add(x.Name(GrainStateItem.GrainTtl));
    }

    private InconsistentStateException Conflict(string stateName, GrainId grainId, string? expectedETag, ConditionalCheckFailedException e)
    {
        string stored = e.Item is { Count: > 0 } item && DynamoDBValues.TryGetLong(item, GrainStateItem.ETag) is { } etag ? DynamoDBValues.Etag(etag) : "none";
        return new InconsistentStateException(
            $"State {stateName} of {grainId} in DynamoDB table '{TableName}' has etag {stored}, not {expectedETag ?? "none"}: another activation wrote it.",
            stored, expectedETag ?? "none", e);
    }

    private static long? ParseExpected(string? etag, string stateName, GrainId grainId)
    {
        if (string.IsNullOrWhiteSpace(etag)) return null;
        if (DynamoDBValues.TryParseEtag(etag, out long value)) return value;
        // No stored record has it: the condition could only fail.
        throw new InconsistentStateException($"State {stateName} of {grainId}: '{etag}' is not an etag of the DynamoDB grain storage.", "unknown", etag);
    }

    private void Reset<T>(IGrainState<T> grainState, string? etag)
    {
        grainState.State = Create<T>();
        grainState.RecordExists = false;
        grainState.ETag = etag;
    }

    private T Create<T>() => _activators.GetActivator<T>().Create();

    [LoggerMessage(Level = LogLevel.Debug, Message = "State {StateName} of {GrainId}: version {Version} was replaced while it was read; reading again.")]
    private static partial void LogVersionReplacedDuringRead(ILogger logger, string stateName, GrainId grainId, string version);
}
