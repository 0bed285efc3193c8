using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Persistence;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Persistence;

/// <summary>
/// The conformance suite against DynamoDB Local, plus what is particular to DynamoDB: the stored
/// items (Orleans.Persistence.DynamoDB's keys, the chunks of a large state), the TTL, tombstones,
/// corruption and the start-up errors. Each test gets its own table and cluster id.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBGrainStorageTests(DynamoDbLocalFixture dynamo) : GrainStorageTestsBase
{
    private readonly DynamoDbProviderTables _tables = new(dynamo, "grain-state");

    private DynamoDBClusteringOptions Options(Action<DynamoDBGrainStorageOptions>? configure = null)
    {
        var options = _tables.Options();
        options.GrainStorage.TableName = _tables.TableName;
        configure?.Invoke(options.GrainStorage);
        return options;
    }

    private DynamoDBGrainStorage Open(Action<DynamoDBGrainStorageOptions>? configure = null, string? clusterId = null, TimeProvider? time = null) =>
        _tables.Track(new DynamoDBGrainStorage(Options(configure), clusterId ?? _tables.ClusterId, time));

    protected override async Task<IGrainStorage> CreateStorageAsync()
    {
        var storage = Open();
        await storage.InitializeAsync();
        return storage;
    }

    protected override IGrainStorage OpenSameStorage() => Open();

    public override Task DisposeAsync() => _tables.DisposeAsync();

    private string Reference => $"{_tables.ClusterId}_{GrainId}";

    /// <summary>Every item of this test's grain, by range key.</summary>
    private async Task<Dictionary<string, Dictionary<string, AttributeValue>>> RawItemsAsync(string? reference = null)
    {
        var items = new Dictionary<string, Dictionary<string, AttributeValue>>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var response = await _tables.Raw.QueryAsync(new QueryRequest
            {
                TableName = _tables.TableName,
                ConsistentRead = true,
                KeyConditionExpression = "GrainReference = :r",
                ExpressionAttributeValues = new() { [":r"] = new() { S = reference ?? Reference } },
                ExclusiveStartKey = start,
            });
            foreach (var item in response.Items ?? []) items[item["GrainType"].S!] = item;
            start = response.LastEvaluatedKey is { Count: > 0 } next ? next : null;
        }
        while (start is not null);
        return items;
    }

    private static bool IsChunk(string rangeKey) => rangeKey.Contains("#chunk#", StringComparison.Ordinal);

    /// <summary>Each head's chunks are exactly those of the version it names: no chunk of another version is left.</summary>
    protected override async Task AssertOnlyCurrentStateStoredAsync()
    {
        var items = await RawItemsAsync();
        foreach (var (rangeKey, head) in items.Where(i => !IsChunk(i.Key)))
        {
            var chunks = items.Keys.Where(k => IsChunk(k) && k.StartsWith(rangeKey + "#chunk#", StringComparison.Ordinal)).Order().ToList();
            if (head.TryGetValue("StateVersion", out var version))
            {
                int count = int.Parse(head["ChunkCount"].N!);
                Assert.Equal(Enumerable.Range(0, count).Select(i => $"{rangeKey}#chunk#{version.S}#{i:D6}"), chunks);
            }
            else
            {
                Assert.Empty(chunks);
            }
        }
    }

    [Fact]
    public async Task A_small_state_is_one_item_in_the_Orleans_schema_with_a_TTL()
    {
        var data = State(1234, 1);
        long before = DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeSeconds();
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, data, null);
        long after = DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeSeconds();

        var item = Assert.Single(await RawItemsAsync()).Value;
        Assert.Equal(Reference, item["GrainReference"].S);
        Assert.Equal(GrainType, item["GrainType"].S);
        Assert.Equal(etag, item["ETag"].N);
        Assert.Equal(data, item["GrainState"].B!.ToArray());
        Assert.InRange(long.Parse(item["ExpiresAt"].N!), before, after);
        Assert.False(item.ContainsKey("StateVersion"));
    }

    [Fact]
    public async Task A_large_state_is_split_into_chunks_of_a_version_the_head_names()
    {
        var data = State(LargeSize, 1);
        await Storage.WriteStateAsync(GrainType, GrainId, data, null);

        var items = await RawItemsAsync();
        var head = items[GrainType];
        Assert.False(head.ContainsKey("GrainState"));
        int expectedChunks = (LargeSize + DynamoDBGrainStorageOptions.DefaultChunkSize - 1) / DynamoDBGrainStorageOptions.DefaultChunkSize;
        Assert.Equal(expectedChunks.ToString(), head["ChunkCount"].N);
        Assert.Equal(LargeSize.ToString(), head["StateSize"].N);
        var chunks = items.Where(i => IsChunk(i.Key)).OrderBy(i => i.Key).ToList();
        Assert.Equal(expectedChunks, chunks.Count);
        Assert.All(chunks, c => Assert.StartsWith($"{GrainType}#chunk#{head["StateVersion"].S}#", c.Key));
        Assert.All(chunks, c => Assert.True(c.Value["GrainState"].B!.Length <= DynamoDBGrainStorageOptions.DefaultChunkSize));
        Assert.All(chunks, c => Assert.Equal(head["ExpiresAt"].N, c.Value["ExpiresAt"].N));
        Assert.Equal(data, chunks.SelectMany(c => c.Value["GrainState"].B!.ToArray()).ToArray());
    }

    [Fact]
    public async Task Many_small_chunks_take_several_batches_each_way()
    {
        // 1 KiB chunks: 150 items, over BatchWriteItem's 25 and the 32 keys of one BatchGetItem.
        var storage = Open(o => o.ChunkSize = 1024);
        var data = State(150 * 1024 - 10, 5);
        string etag = await storage.WriteStateAsync(GrainType, GrainId, data, null);
        Assert.Equal(150, (await RawItemsAsync()).Keys.Count(IsChunk));
        var stored = await storage.ReadStateAsync(GrainType, GrainId);
        Assert.Equal(data, stored!.Data);

        // The default chunk size reads what 1 KiB chunks wrote: the head says where the chunks are.
        Assert.Equal(data, (await Storage.ReadStateAsync(GrainType, GrainId))!.Data);
        await storage.WriteStateAsync(GrainType, GrainId, State(10, 6), etag);
        Assert.Single(await RawItemsAsync());
    }

    [Fact]
    public async Task A_clear_leaves_a_tombstone_so_an_etag_from_before_it_never_matches_again()
    {
        string e1 = await Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        await Storage.ClearStateAsync(GrainType, GrainId, e1);
        var tombstone = Assert.Single(await RawItemsAsync()).Value;
        Assert.True(tombstone["Cleared"].BOOL);
        Assert.False(tombstone.ContainsKey("GrainState"));

        // The grain is registered again and written as often as before the clear: the stale etag still fails.
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, State(10, 2), null);
        Assert.True(long.Parse(etag) > long.Parse(e1));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(GrainType, GrainId, State(10, 3), e1));
        Assert.False((await RawItemsAsync())[GrainType].ContainsKey("Cleared"));
    }

    [Fact]
    public async Task With_DeleteStateOnClear_a_clear_removes_every_item()
    {
        var storage = Open(o => o.DeleteStateOnClear = true);
        string etag = await storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        await storage.ClearStateAsync(GrainType, GrainId, etag);
        Assert.Empty(await RawItemsAsync());
        Assert.Null(await storage.ReadStateAsync(GrainType, GrainId));
        await storage.WriteStateAsync(GrainType, GrainId, State(10, 2), null);
        Assert.NotNull(await storage.ReadStateAsync(GrainType, GrainId));
    }

    [Fact]
    public async Task The_table_is_created_on_demand_with_TTL_on()
    {
        var table = (await _tables.Raw.DescribeTableAsync(new DescribeTableRequest { TableName = _tables.TableName })).Table;
        Assert.Equal(BillingMode.PAY_PER_REQUEST, table.BillingModeSummary?.BillingMode ?? BillingMode.PAY_PER_REQUEST);
        Assert.Equal(["GrainReference", "GrainType"], table.KeySchema.OrderBy(k => k.KeyType.Value).Select(k => k.AttributeName));
        var ttl = (await _tables.Raw.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = _tables.TableName })).TimeToLiveDescription;
        Assert.Contains(ttl.TimeToLiveStatus.Value, new[] { "ENABLED", "ENABLING" });
        Assert.Equal("ExpiresAt", ttl.AttributeName);
    }

    [Fact]
    public async Task With_TTL_off_no_expiry_is_written_and_an_old_one_is_removed()
    {
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, State(10, 1), null);
        Assert.True((await RawItemsAsync())[GrainType].ContainsKey("ExpiresAt"));
        var storage = Open(o => o.TimeToLive = TimeSpan.Zero);
        etag = await storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 2), etag);
        Assert.All((await RawItemsAsync()).Values, item => Assert.False(item.ContainsKey("ExpiresAt")));
    }

    [Fact]
    public async Task A_missing_chunk_under_an_unchanged_head_is_reported_or_read_as_expired()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        var storage = Open(o => o.TimeToLive = TimeSpan.FromHours(1), time: time);
        await storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        string chunk = (await RawItemsAsync()).Keys.Where(IsChunk).Order().Skip(2).First();
        await _tables.Raw.DeleteItemAsync(new DeleteItemRequest
        {
            TableName = _tables.TableName,
            Key = new() { ["GrainReference"] = new() { S = Reference }, ["GrainType"] = new() { S = chunk } },
        });

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => storage.ReadStateAsync(GrainType, GrainId));
        Assert.Contains("missing chunks", e.Message);

        // Past its TTL, DynamoDB deletes the items in any order: a torn state is an expired one.
        time.Now += TimeSpan.FromHours(2);
        Assert.Null(await storage.ReadStateAsync(GrainType, GrainId));
    }

    [Fact]
    public async Task A_chunk_changed_behind_the_storage_fails_the_hash_check()
    {
        await Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        var (key, item) = (await RawItemsAsync()).Where(i => IsChunk(i.Key)).OrderBy(i => i.Key).First();
        var bytes = item["GrainState"].B!.ToArray();
        bytes[17] ^= 0xFF;
        item["GrainState"] = new AttributeValue { B = new MemoryStream(bytes) };
        await _tables.Raw.PutItemAsync(new PutItemRequest { TableName = _tables.TableName, Item = item });
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => Storage.ReadStateAsync(GrainType, GrainId));
        Assert.Contains("hash", e.Message);
    }

    [Fact]
    public async Task A_state_over_MaxStateSize_is_refused_before_anything_is_written()
    {
        var storage = Open(o => o.MaxStateSize = 1024 * 1024);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => storage.WriteStateAsync(GrainType, GrainId, State(1024 * 1024 + 1, 1), null));
        Assert.Contains("MaxStateSize", e.Message);
        Assert.Empty(await RawItemsAsync());
    }

    [Fact]
    public async Task Clusters_sharing_the_table_are_kept_apart()
    {
        var other = Open(clusterId: _tables.ClusterId + "-b");
        await Storage.WriteStateAsync(GrainType, GrainId, State(10, 1), null);
        Assert.Null(await other.ReadStateAsync(GrainType, GrainId));
        await other.WriteStateAsync(GrainType, GrainId, State(20, 2), null);
        Assert.Equal(State(10, 1), (await Storage.ReadStateAsync(GrainType, GrainId))!.Data);
        Assert.Single(await RawItemsAsync($"{_tables.ClusterId}-b_{GrainId}"));
    }

    [Fact]
    public async Task A_missing_table_without_CreateIfNotExists_is_a_clear_start_up_error()
    {
        var options = Options(o => o.TableName = DynamoDbLocalFixture.UniqueTableName("missing"));
        options.CreateIfNotExists = false;
        using var storage = new DynamoDBGrainStorage(options, _tables.ClusterId);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(storage.InitializeAsync);
        Assert.Contains("grain storage table", e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("Membership:DynamoDB:GrainStorage:TableName", e.Message);
        // Operations say the same rather than a raw AWS error.
        await Assert.ThrowsAsync<InvalidOperationException>(() => storage.ReadStateAsync(GrainType, GrainId));
    }

    [Fact]
    public async Task A_table_of_another_schema_is_a_clear_start_up_error()
    {
        var e = await _tables.InitializeOnForeignTableAsync(
            foreign => new DynamoDBGrainStorage(Options(o => o.TableName = foreign), _tables.ClusterId), storage => storage.InitializeAsync());
        Assert.Contains("[DeploymentId (HASH), SiloIdentity (RANGE)]", e.Message);
        Assert.Contains("[GrainReference (HASH), GrainType (RANGE)]", e.Message);
    }

    [Fact]
    public async Task An_unreachable_DynamoDB_is_a_clear_start_up_error()
    {
        var e = await DynamoDbProviderTables.InitializeUnreachableAsync(
            options => new DynamoDBGrainStorage(options, _tables.ClusterId), storage => storage.InitializeAsync());
        Assert.Contains("Membership:DynamoDB:Service", e.Message);
    }

    [Fact]
    public async Task A_reader_whose_version_is_replaced_mid_read_reads_the_new_one()
    {
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        var next = State(LargeSize + 5, 2);
        int batchGets = 0;
        using var client = new InterceptingClient(dynamo.ServiceUrl)
        {
            // Between the reader's head and its chunks, a writer replaces the version and deletes its chunks.
            BeforeBatchGet = async () =>
            {
                if (Interlocked.Increment(ref batchGets) == 1) etag = await Storage.WriteStateAsync(GrainType, GrainId, next, etag);
            },
        };
        using var reader = new DynamoDBGrainStorage(client, Options(), _tables.ClusterId);
        var stored = await reader.ReadStateAsync(GrainType, GrainId);
        Assert.Equal(next, stored!.Data);
        Assert.Equal(etag, stored.ETag);
        Assert.Equal(2, reader.Requests.ByOperation["GetItem"]);
    }

    /// <summary>A client that runs a step before each BatchGetItem, to interleave a writer deterministically.</summary>
    private sealed class InterceptingClient(string serviceUrl) : AmazonDynamoDBClient(
        new Amazon.Runtime.BasicAWSCredentials("local", "local"),
        new AmazonDynamoDBConfig { ServiceURL = serviceUrl, AuthenticationRegion = DynamoDBClusteringOptions.UrlAuthenticationRegion })
    {
        public Func<Task>? BeforeBatchGet { get; init; }

        public override async Task<BatchGetItemResponse> BatchGetItemAsync(BatchGetItemRequest request, CancellationToken cancellationToken = default)
        {
            if (BeforeBatchGet is not null) await BeforeBatchGet();
            return await base.BatchGetItemAsync(request, cancellationToken);
        }
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
