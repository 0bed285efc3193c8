using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>
/// The conformance suite against DynamoDB Local, plus what is particular to DynamoDB: the stored
/// schema (Orleans.Clustering.DynamoDB's), table creation and the start-up errors. Each test gets its
/// own table (xunit makes an instance per test) and the base class a unique cluster id.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBMembershipTableTests(DynamoDbLocalFixture dynamo) : MembershipTableTestsBase
{
    private readonly string _tableName = DynamoDbLocalFixture.UniqueTableName();
    private readonly List<DynamoDBMembershipTable> _opened = [];

    protected override IMembershipTable CreateTable(string clusterId) => Open(clusterId);

    protected override IMembershipTable OpenSameTable(string clusterId) => Open(clusterId);

    private DynamoDBMembershipTable Open(string clusterId, Action<DynamoDBClusteringOptions>? configure = null, string? tableName = null)
    {
        var options = dynamo.Options(tableName ?? _tableName);
        configure?.Invoke(options);
        var table = new DynamoDBMembershipTable(options, clusterId);
        lock (_opened) _opened.Add(table);
        return table;
    }

    private DynamoDBMembershipTable Dynamo => (DynamoDBMembershipTable)Table;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        using (var client = dynamo.CreateClient())
        {
            try
            {
                await client.DeleteTableAsync(new DeleteTableRequest { TableName = _tableName });
            }
            catch (ResourceNotFoundException)
            {
            }
        }
        lock (_opened)
        {
            foreach (var table in _opened) table.Dispose();
        }
    }

    private async Task<Dictionary<string, AttributeValue>> RawItemAsync(string identity)
    {
        using var client = dynamo.CreateClient();
        var response = await client.GetItemAsync(new GetItemRequest
        {
            TableName = _tableName,
            ConsistentRead = true,
            Key = new()
            {
                ["DeploymentId"] = new() { S = ClusterId },
                ["SiloIdentity"] = new() { S = identity },
            },
        });
        Assert.True(response.Item is { Count: > 0 }, $"no item {identity}");
        return response.Item;
    }

    [Fact]
    public async Task Rows_are_stored_in_the_Orleans_DynamoDB_schema()
    {
        var entry = NewEntry(SiloStatus.Active);
        entry.SuspectTimes = [new SuspectVote("10.0.0.1-11111-5", entry.IAmAliveTime), new SuspectVote("10.0.0.2-11111-6", entry.IAmAliveTime.AddSeconds(1))];
        Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));

        var item = await RawItemAsync(entry.SiloAddress.Identity);
        Assert.Equal(ClusterId, item["DeploymentId"].S);
        Assert.Equal($"127.0.0.1-11111-{entry.SiloAddress.Generation}", item["SiloIdentity"].S);
        Assert.Equal("127.0.0.1", item["Address"].S);
        Assert.Equal("11111", item["Port"].N);
        Assert.Equal(entry.SiloAddress.Generation.ToString(), item["Generation"].N);
        Assert.Equal("3", item["SiloStatus"].N);
        Assert.Equal("11111", item["ProxyPort"].N);
        Assert.Equal("11112", item["HttpPort"].N);
        Assert.Equal("host", item["HostName"].S);
        Assert.Equal("silo-11111", item["SiloName"].S);
        Assert.Equal("storage", item["RoleName"].S);
        Assert.Equal("az-1", item["FaultZone"].S);
        Assert.Equal("10.0.0.1-11111-5|10.0.0.2-11111-6", item["SuspectingSilos"].S);
        Assert.Equal("2026-01-02T03:04:05.6781234Z|2026-01-02T03:04:06.6781234Z", item["SuspectingTimes"].S);
        Assert.Equal("2026-01-02T03:04:05.6781234Z", item["StartTime"].S);
        Assert.Equal("2026-01-02T03:04:05.6781234Z", item["IAmAliveTime"].S);
        Assert.Equal("0", item["ETag"].N);
        Assert.Equal("1", item["MembershipVersion"].N);

        var version = await RawItemAsync(DynamoDBMembershipTable.VersionRowKey);
        Assert.Equal("1", version["MembershipVersion"].N);
        Assert.Equal("1", version["ETag"].N);

        // The etags the table hands out are the string forms of those numbers.
        var data = await Table.ReadAll();
        Assert.Equal(new TableVersion(1, "1"), data.Version);
        Assert.Equal("0", Assert.Single(data.Members).Etag);
    }

    [Fact]
    public async Task Initialization_creates_an_on_demand_table_and_the_version_row_once()
    {
        using var client = dynamo.CreateClient();
        var described = (await client.DescribeTableAsync(_tableName)).Table;
        Assert.Equal(TableStatus.ACTIVE, described.TableStatus);
        Assert.Equal(BillingMode.PAY_PER_REQUEST, described.BillingModeSummary?.BillingMode);
        Assert.Contains(described.KeySchema, k => k.AttributeName == "DeploymentId" && k.KeyType == KeyType.HASH);
        Assert.Contains(described.KeySchema, k => k.AttributeName == "SiloIdentity" && k.KeyType == KeyType.RANGE);

        Assert.True(await Table.InsertRow(NewEntry(), (await Table.ReadAll()).Version.Next()));
        var before = (await Table.ReadAll()).Version;
        // A second silo initializing must not reset the version row.
        await Open(ClusterId).InitializeMembershipTable(tryInitTableVersion: true);
        Assert.Equal(before, (await Table.ReadAll()).Version);
    }

    [Fact]
    public async Task Silos_initializing_a_missing_table_at_once_all_succeed()
    {
        string table = DynamoDbLocalFixture.UniqueTableName("race");
        try
        {
            var tables = Enumerable.Range(0, 4).Select(_ => Open(ClusterId, tableName: table)).ToList();
            await Task.WhenAll(tables.Select(t => Task.Run(() => t.InitializeMembershipTable(true)))).WaitAsync(TimeSpan.FromSeconds(60));
            var data = await tables[0].ReadAll();
            Assert.Equal(new TableVersion(0, "0"), data.Version);
            Assert.Empty(data.Members);
        }
        finally
        {
            using var client = dynamo.CreateClient();
            await client.DeleteTableAsync(table);
        }
    }

    [Fact]
    public async Task Provisioned_throughput_is_an_option()
    {
        string table = DynamoDbLocalFixture.UniqueTableName("provisioned");
        try
        {
            await Open(ClusterId, o => { o.UseProvisionedThroughput = true; o.ReadCapacityUnits = 7; o.WriteCapacityUnits = 3; }, table)
                .InitializeMembershipTable(true);
            using var client = dynamo.CreateClient();
            var described = (await client.DescribeTableAsync(table)).Table;
            Assert.Equal(7, described.ProvisionedThroughput.ReadCapacityUnits);
            Assert.Equal(3, described.ProvisionedThroughput.WriteCapacityUnits);
            Assert.NotEqual(BillingMode.PAY_PER_REQUEST, described.BillingModeSummary?.BillingMode);
        }
        finally
        {
            using var client = dynamo.CreateClient();
            await client.DeleteTableAsync(table);
        }
    }

    [Fact]
    public async Task A_missing_table_without_CreateIfNotExists_is_a_clear_error()
    {
        var table = Open(ClusterId, o => o.CreateIfNotExists = false, DynamoDbLocalFixture.UniqueTableName("missing"));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => table.InitializeMembershipTable(true));
        Assert.Contains(table.TableName, e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("CreateIfNotExists", e.Message);
        Assert.Contains(dynamo.ServiceUrl, e.Message);
    }

    [Fact]
    public async Task A_table_of_another_schema_is_a_clear_error()
    {
        string name = DynamoDbLocalFixture.UniqueTableName("foreign");
        using var client = dynamo.CreateClient();
        await client.CreateTableAsync(new CreateTableRequest
        {
            TableName = name,
            BillingMode = BillingMode.PAY_PER_REQUEST,
            AttributeDefinitions = [new AttributeDefinition { AttributeName = "Id", AttributeType = ScalarAttributeType.S }],
            KeySchema = [new KeySchemaElement { AttributeName = "Id", KeyType = KeyType.HASH }],
        });
        try
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Open(ClusterId, tableName: name).InitializeMembershipTable(true));
            Assert.Contains("key schema", e.Message);
            Assert.Contains("TableName", e.Message);
        }
        finally
        {
            await client.DeleteTableAsync(name);
        }
    }

    [Fact]
    public async Task UpdateIAmAlive_of_a_missing_row_throws_and_creates_nothing()
    {
        var entry = NewEntry(SiloStatus.Active);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Table.UpdateIAmAlive(entry));
        Assert.Empty((await Table.ReadAll()).Members);
    }

    [Fact]
    public async Task Clusters_sharing_a_table_do_not_see_each_other()
    {
        var other = Open(ClusterId + "-other");
        await other.InitializeMembershipTable(true);
        Assert.True(await Table.InsertRow(NewEntry(port: 1), (await Table.ReadAll()).Version.Next()));
        Assert.True(await other.InsertRow(NewEntry(port: 2), (await other.ReadAll()).Version.Next()));
        Assert.Equal(1, Assert.Single((await Table.ReadAll()).Members).Entry.SiloAddress.Port);

        await Table.DeleteMembershipTableEntries(ClusterId);
        Assert.Empty((await Table.ReadAll()).Members);
        Assert.Equal(2, Assert.Single((await other.ReadAll()).Members).Entry.SiloAddress.Port);
        await other.DeleteMembershipTableEntries(other.ClusterId);
    }

    [Fact]
    public async Task After_the_entries_are_deleted_an_insert_recreates_the_version_row()
    {
        Assert.True(await Table.InsertRow(NewEntry(port: 1), (await Table.ReadAll()).Version.Next()));
        await Table.DeleteMembershipTableEntries(ClusterId);
        var empty = await Table.ReadAll();
        Assert.Equal(new TableVersion(0, ""), empty.Version);

        Assert.True(await Table.InsertRow(NewEntry(port: 2), empty.Version.Next()));
        Assert.False(await Table.InsertRow(NewEntry(port: 3), empty.Version.Next())); // the version row exists again
        var after = await Table.ReadAll();
        Assert.Equal(1, after.Version.Version);
        Assert.Single(after.Members);
    }

    [Fact]
    public async Task Many_rows_are_read_across_query_pages()
    {
        // Items of ~60 KB each: DynamoDB pages a query at 1 MB, so 30 rows take two pages or more.
        const int Rows = 30;
        for (int i = 0; i < Rows; i++)
        {
            var entry = NewEntry(port: 30000 + i);
            entry.FaultZone = new string('z', 60_000);
            Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        }
        long queriesBefore = Dynamo.Requests.ByOperation["Query"];
        var data = await Table.ReadAll();
        Assert.Equal(Rows, data.Members.Count);
        Assert.True(Dynamo.Requests.ByOperation["Query"] - queriesBefore >= 2, "expected a paginated query");
        Assert.Equal(Rows, data.Version.Version);

        await Table.DeleteMembershipTableEntries(ClusterId); // more than one BatchWriteItem of 25
        Assert.Empty((await Table.ReadAll()).Members);
    }

    [Fact]
    public async Task A_row_newer_than_the_version_row_makes_a_bounded_number_of_rereads()
    {
        var entry = NewEntry();
        Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        // Simulate a write landing between the two reads for good: a row claiming a future version.
        using (var client = dynamo.CreateClient())
        {
            await client.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = _tableName,
                Key = new() { ["DeploymentId"] = new() { S = ClusterId }, ["SiloIdentity"] = new() { S = entry.SiloAddress.Identity } },
                UpdateExpression = "SET MembershipVersion = :v",
                ExpressionAttributeValues = new() { [":v"] = new() { N = "99" } },
            });
        }
        long readsBefore = Dynamo.Requests.Reads;
        var data = await Table.ReadAll();
        Assert.Single(data.Members);
        Assert.Equal(1, data.Version.Version);
        Assert.Equal(3 * 2, Dynamo.Requests.Reads - readsBefore); // 3 attempts of GetItem + Query
    }
}
