using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;
using Orleans.Shuffle.Persistence.DynamoDB;
using Orleans.Shuffle.Providers.Tests.Infrastructure;
using Orleans.Shuffle.Testing;
using Orleans.Storage;

namespace Orleans.Shuffle.Providers.Tests.Persistence;

/// <summary>
/// The conformance suite on DynamoDB Local, plus what is particular to DynamoDB: the stored items
/// (Orleans.Persistence.DynamoDB's, and our chunks of states over 400 KB), the TTL, corruption and
/// the start-up errors. Each test has its own table and service id.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBGrainStorageTests(DynamoDbLocalFixture dynamo) : GrainStorageTestsBase
{
    private readonly DynamoDbTestTables _tables = new(dynamo, "grain-state");
    private readonly string _serviceId = "svc-" + Guid.NewGuid().ToString("N")[..8];

    private DynamoDBGrainStorageOptions NewOptions(Action<DynamoDBGrainStorageOptions>? configure = null)
    {
        var options = dynamo.Options<DynamoDBGrainStorageOptions>(_tables.TableName);
        options.GrainStorageSerializer = SiloServices.Serializer;
        configure?.Invoke(options);
        return options;
    }

    private DynamoDBGrainStorage Open(Action<DynamoDBGrainStorageOptions>? configure = null, string? serviceId = null, TimeProvider? time = null) =>
        _tables.Track(new DynamoDBGrainStorage(
            "dynamo", NewOptions(configure), Options.Create(new ClusterOptions { ServiceId = serviceId ?? _serviceId }), SiloServices.Activators,
            NullLogger<DynamoDBGrainStorage>.Instance, time ?? TimeProvider.System));

    protected override IGrainStorage OpenStorage() => Open();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await ((DynamoDBGrainStorage)Storage).InitializeAsync();
    }

    public override async Task DisposeAsync() => await _tables.DisposeAsync();

    private string Reference => $"{_serviceId}_{GrainId}";

    /// <summary>Every item of this test's grain, by range key.</summary>
    private async Task<Dictionary<string, Dictionary<string, AttributeValue>>> RawItemsAsync(string? reference = null) =>
        (await _tables.QueryAsync("GrainReference", reference ?? Reference)).ToDictionary(i => i["GrainType"].S!);

    private static bool IsChunk(string rangeKey) => rangeKey.Contains("#chunk#", StringComparison.Ordinal);

    /// <summary>The chunks in the table are exactly those of the version the head names.</summary>
    protected override async Task AssertOnlyCurrentStateStoredAsync()
    {
        var items = await RawItemsAsync();
        var chunks = items.Keys.Where(IsChunk).Order(StringComparer.Ordinal).ToList();
        if (items.TryGetValue(StateName, out var head) && head.TryGetValue("StateVersion", out var version) && !head.ContainsKey("GrainState"))
        {
            int count = int.Parse(head["ChunkCount"].N!);
            Assert.Equal(Enumerable.Range(0, count).Select(i => $"{StateName}#chunk#{version.S}#{i:D6}"), chunks);
        }
        else
        {
            Assert.Empty(chunks);
        }
    }

    [Fact]
    public async Task A_small_state_is_one_item_of_Orleans_DynamoDB_schema_with_a_TTL()
    {
        long before = DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeSeconds();
        string etag = await WriteAsync(State(1234, 1), null);
        long after = DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeSeconds();

        var item = Assert.Single(await RawItemsAsync()).Value;
        Assert.Equal(["ETag", "GrainReference", "GrainState", "GrainTtl", "GrainType"], item.Keys.Order(StringComparer.Ordinal));
        Assert.Equal($"{_serviceId}_shuffle-grain/{GrainId.Key}", item["GrainReference"].S);
        Assert.Equal(StateName, item["GrainType"].S);
        Assert.Equal(("0", "0"), (etag, item["ETag"].N));
        Assert.InRange(long.Parse(item["GrainTtl"].N!), before, after);
        // GrainState holds the bytes of the silo's grain storage serializer, as Orleans' provider writes them.
        Assert.Equal(State(1234, 1), SiloServices.Serializer.Deserialize<TestState>(new BinaryData(item["GrainState"].B!.ToArray())));
    }

    [Fact]
    public async Task The_table_is_created_on_demand_with_Orleans_keys_and_TTL_on_GrainTtl()
    {
        var table = await _tables.DescribeAsync();
        Assert.Equal(BillingMode.PAY_PER_REQUEST, table.BillingModeSummary?.BillingMode);
        Assert.Equal([("GrainReference", "HASH"), ("GrainType", "RANGE")], table.KeySchema.Select(k => (k.AttributeName, k.KeyType.Value)));
        Assert.All(table.AttributeDefinitions, a => Assert.Equal(ScalarAttributeType.S, a.AttributeType));
        var ttl = (await _tables.Raw.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = _tables.TableName })).TimeToLiveDescription;
        Assert.Contains(ttl.TimeToLiveStatus.Value, new[] { "ENABLED", "ENABLING" });
        Assert.Equal("GrainTtl", ttl.AttributeName);
    }

    [Fact]
    public async Task Records_written_and_cleared_as_the_official_provider_does_are_read()
    {
        var serialized = SiloServices.Serializer.Serialize(State(500, 7)).ToArray();
        await _tables.Raw.PutItemAsync(new PutItemRequest
        {
            TableName = _tables.TableName,
            Item = new()
            {
                ["GrainReference"] = new() { S = Reference }, ["GrainType"] = new() { S = StateName },
                ["ETag"] = new() { N = "41" }, ["GrainState"] = new() { B = new MemoryStream(serialized) },
            },
        });
        var read = await ReadAsync();
        Assert.Equal((true, "41"), (read.RecordExists, read.ETag));
        Assert.Equal(State(500, 7), read.State);

        // Orleans clears by writing GrainState NULL and the next ETag.
        await _tables.Raw.PutItemAsync(new PutItemRequest
        {
            TableName = _tables.TableName,
            Item = new() { ["GrainReference"] = new() { S = Reference }, ["GrainType"] = new() { S = StateName }, ["ETag"] = new() { N = "42" }, ["GrainState"] = new() { NULL = true } },
        });
        read = await ReadAsync();
        Assert.Equal((false, "42"), (read.RecordExists, read.ETag));
        Assert.Equal("43", await WriteAsync(State(10, 8), "42"));
    }

    [Fact]
    public async Task A_large_state_is_split_into_chunks_of_the_version_the_head_names()
    {
        await WriteAsync(State(LargePayload, 1), null);
        var items = await RawItemsAsync();
        var head = items[StateName];
        Assert.Equal(["ChunkCount", "ETag", "GrainReference", "GrainTtl", "GrainType", "StateHash", "StateSize", "StateVersion"], head.Keys.Order(StringComparer.Ordinal));
        int size = int.Parse(head["StateSize"].N!);
        int expected = (size + DynamoDBGrainStorageOptions.DefaultChunkSize - 1) / DynamoDBGrainStorageOptions.DefaultChunkSize;
        Assert.Equal(expected.ToString(), head["ChunkCount"].N);
        var chunks = items.Where(i => IsChunk(i.Key)).OrderBy(i => i.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, chunks.Count);
        Assert.All(chunks, c => Assert.StartsWith($"{StateName}#chunk#{head["StateVersion"].S}#", c.Key));
        Assert.All(chunks, c => Assert.True(c.Value["GrainState"].B!.Length <= DynamoDBGrainStorageOptions.DefaultChunkSize));
        Assert.All(chunks, c => Assert.Equal(head["GrainTtl"].N, c.Value["GrainTtl"].N));
        var bytes = chunks.SelectMany(c => c.Value["GrainState"].B!.ToArray()).ToArray();
        Assert.Equal(size, bytes.Length);
        Assert.Equal(State(LargePayload, 1), SiloServices.Serializer.Deserialize<TestState>(new BinaryData(bytes)));
    }

    [Fact]
    public async Task Many_small_chunks_take_several_batches_each_way()
    {
        // 1 KiB chunks: over a hundred items, more than BatchWriteItem's 25 and the 32 keys of one BatchGetItem.
        var storage = Open(o => o.ChunkSize = 1024);
        var state = State(100 * 1024, 5);
        string etag = await WriteAsync(state, null, storage);
        Assert.True((await RawItemsAsync()).Keys.Count(IsChunk) > 100);
        Assert.True(storage.Requests.Of("BatchWriteItem") > 4);
        Assert.Equal(state, (await ReadAsync(storage)).State);
        Assert.True(storage.Requests.Of("BatchGetItem") > 3);

        // The default chunk size reads what 1 KiB chunks wrote: the head says where the chunks are.
        Assert.Equal(state, (await ReadAsync()).State);
        await WriteAsync(State(10, 6), etag, storage);
        Assert.Single(await RawItemsAsync());
    }

    [Fact]
    public async Task With_DeleteStateOnClear_a_clear_deletes_every_item()
    {
        var storage = Open(o => o.DeleteStateOnClear = true);
        var state = Written(State(LargePayload, 1));
        await storage.WriteStateAsync(StateName, GrainId, state);
        await storage.ClearStateAsync(StateName, GrainId, state);
        Assert.Null(state.ETag);
        Assert.Empty(await RawItemsAsync());
        Assert.False((await ReadAsync(storage)).RecordExists);
        await WriteAsync(State(10, 2), null, storage);
    }

    [Fact]
    public async Task With_TTL_off_no_expiry_is_written_and_an_old_one_is_removed()
    {
        string etag = await WriteAsync(State(10, 1), null);
        Assert.True((await RawItemsAsync())[StateName].ContainsKey("GrainTtl"));
        await WriteAsync(State(LargePayload, 2), etag, Open(o => o.TimeToLive = null));
        Assert.All((await RawItemsAsync()).Values, item => Assert.False(item.ContainsKey("GrainTtl")));
    }

    [Fact]
    public async Task A_missing_chunk_under_an_unchanged_head_is_reported_or_read_as_expired()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var storage = Open(o => o.TimeToLive = TimeSpan.FromHours(1), time: time);
        await WriteAsync(State(LargePayload, 1), null, storage);
        string chunk = (await RawItemsAsync()).Keys.Where(IsChunk).Order(StringComparer.Ordinal).Skip(2).First();
        await _tables.Raw.DeleteItemAsync(new DeleteItemRequest
        {
            TableName = _tables.TableName,
            Key = new() { ["GrainReference"] = new() { S = Reference }, ["GrainType"] = new() { S = chunk } },
        });

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAsync(storage));
        Assert.Contains("is missing chunks", e.Message);

        // Past its TTL DynamoDB deletes the items in any order: a torn state is an expired one.
        time.Advance(TimeSpan.FromHours(2));
        var read = await ReadAsync(storage);
        Assert.False(read.RecordExists);
        Assert.Equal("0", read.ETag);
    }

    [Fact]
    public async Task A_chunk_changed_behind_the_storage_fails_the_hash_check()
    {
        await WriteAsync(State(LargePayload, 1), null);
        var (_, item) = (await RawItemsAsync()).Where(i => IsChunk(i.Key)).OrderBy(i => i.Key, StringComparer.Ordinal).First();
        var bytes = item["GrainState"].B!.ToArray();
        bytes[17] ^= 0x01;
        item["GrainState"] = new AttributeValue { B = new MemoryStream(bytes) };
        await _tables.Raw.PutItemAsync(new PutItemRequest { TableName = _tables.TableName, Item = item });
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAsync());
        Assert.Contains("does not match its SHA-256", e.Message);
    }

    [Fact]
    public async Task A_state_over_MaxStateSize_is_refused_before_anything_is_written()
    {
        var storage = Open(o => o.MaxStateSize = 1024 * 1024);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => storage.WriteStateAsync(StateName, GrainId, Written(State(1024 * 1024, 1))));
        Assert.Contains("DynamoDBGrainStorage:dynamo:MaxStateSize", e.Message);
        Assert.Empty(await RawItemsAsync());
    }

    [Fact]
    public async Task A_state_name_holding_the_chunk_marker_is_refused()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Storage.WriteStateAsync("a#chunk#b", GrainId, Written(State(10, 1))));
        Assert.Contains("'#chunk#'", e.Message);
    }

    [Fact]
    public async Task Services_sharing_the_table_are_kept_apart()
    {
        var other = Open(serviceId: _serviceId + "-b");
        await WriteAsync(State(10, 1), null);
        Assert.False((await ReadAsync(other)).RecordExists);
        await WriteAsync(State(20, 2), null, other);
        Assert.Equal(State(10, 1), (await ReadAsync()).State);
        Assert.Single(await RawItemsAsync($"{_serviceId}-b_{GrainId}"));
    }

    [Fact]
    public async Task A_conflict_names_the_stored_etag()
    {
        await WriteAsync(State(10, 1), null);
        var e = await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, GrainId, Written(State(10, 2))));
        Assert.Equal(("0", "none"), (e.StoredEtag, e.CurrentEtag));
    }

    [Fact]
    public async Task A_missing_table_without_CreateIfNotExists_is_a_clear_start_up_error()
    {
        var storage = Open(o => { o.TableName = _tables.OtherTable("missing"); o.CreateIfNotExists = false; });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => storage.InitializeAsync());
        Assert.Contains("grain storage table", e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("DynamoDBGrainStorage:dynamo:CreateIfNotExists is false", e.Message);
        // Operations say the same rather than a raw AWS error.
        await Assert.ThrowsAsync<InvalidOperationException>(() => ReadAsync(storage));
    }

    [Fact]
    public async Task A_table_of_another_schema_is_a_clear_start_up_error()
    {
        string foreign = await _tables.CreateForeignTableAsync();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Open(o => o.TableName = foreign).InitializeAsync());
        Assert.Contains("[GrainReference (S) HASH, GrainType (S) RANGE]", e.Message);
        Assert.Contains("Choose another DynamoDBGrainStorage:dynamo:TableName", e.Message);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_a_clear_start_up_error()
    {
        var storage = Open(o => { o.Service = DynamoDbLocalFixture.UnusedLoopbackUrl(); o.MaxErrorRetry = 0; o.RequestTimeout = TimeSpan.FromSeconds(2); });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => storage.InitializeAsync());
        Assert.StartsWith("Could not reach DynamoDB at http://127.0.0.1:", e.Message);
        Assert.Contains("Check DynamoDBGrainStorage:dynamo:Service", e.Message);
    }

    [Fact]
    public async Task A_reader_whose_version_is_replaced_mid_read_reads_the_new_one()
    {
        string etag = await WriteAsync(State(LargePayload, 1), null);
        var next = State(LargePayload + 5, 2);
        int batchGets = 0;
        using var client = new InterceptingClient(dynamo.ServiceUrl)
        {
            // Between the reader's head and its chunks, a writer replaces the version and deletes its chunks.
            BeforeBatchGet = async () =>
            {
                if (Interlocked.Increment(ref batchGets) == 1) etag = await WriteAsync(next, etag);
            },
        };
        var reader = new DynamoDBGrainStorage(client, "dynamo", NewOptions(), _serviceId, SiloServices.Activators);
        var read = await ReadAsync(reader);
        Assert.Equal(next, read.State);
        Assert.Equal(etag, read.ETag);
        Assert.Equal(2, reader.Requests.Of("GetItem"));
    }

    /// <summary>A client that runs a step before each BatchGetItem, to interleave a writer deterministically.</summary>
    private sealed class InterceptingClient(string serviceUrl) : AmazonDynamoDBClient(
        new Amazon.Runtime.BasicAWSCredentials("local", "local"),
        new AmazonDynamoDBConfig { ServiceURL = serviceUrl, AuthenticationRegion = DynamoDBClientOptions.UrlAuthenticationRegion })
    {
        public Func<Task>? BeforeBatchGet { get; init; }

        public override async Task<BatchGetItemResponse> BatchGetItemAsync(BatchGetItemRequest request, CancellationToken cancellationToken = default)
        {
            if (BeforeBatchGet is not null) await BeforeBatchGet();
            return await base.BatchGetItemAsync(request, cancellationToken);
        }
    }
}
