using System.Net;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Shuffle.Clustering.DynamoDB;
using Orleans.Shuffle.Providers.Tests.Infrastructure;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Membership;

/// <summary>
/// The conformance suite on DynamoDB Local, plus what is particular to DynamoDB: the stored schema
/// (Orleans.Clustering.DynamoDB's, so the official provider reads these rows and we read its rows),
/// table creation and the start-up errors. Each test has its own table.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBMembershipTableTests(DynamoDbLocalFixture dynamo) : MembershipTableTestsBase
{
    private readonly DynamoDbTestTables _tables = new(dynamo, "silos");

    private DynamoDBClusteringOptions NewOptions(string? tableName = null) => dynamo.Options<DynamoDBClusteringOptions>(tableName ?? _tables.TableName);

    private DynamoDBMembershipTable Open(string clusterId, DynamoDBClusteringOptions? options = null) =>
        _tables.Track(new DynamoDBMembershipTable(
            Options.Create(options ?? NewOptions()), Options.Create(new ClusterOptions { ClusterId = clusterId }),
            NullLogger<DynamoDBMembershipTable>.Instance, TimeProvider.System));

    protected override IMembershipTable OpenTable(string clusterId) => Open(clusterId);

    protected override IGatewayListProvider OpenGatewayListProvider(string clusterId) =>
        _tables.Track(new DynamoDBGatewayListProvider(
            Options.Create(NewOptions()), Options.Create(new ClusterOptions { ClusterId = clusterId }),
            Options.Create(new GatewayOptions()), NullLogger<DynamoDBGatewayListProvider>.Instance));

    private DynamoDBMembershipTable Dynamo => (DynamoDBMembershipTable)Table;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _tables.DisposeAsync();
    }

    private async Task<Dictionary<string, AttributeValue>> RawItemAsync(string identity)
    {
        var response = await _tables.Raw.GetItemAsync(new GetItemRequest
        {
            TableName = _tables.TableName,
            ConsistentRead = true,
            Key = new() { ["DeploymentId"] = new() { S = ClusterId }, ["SiloIdentity"] = new() { S = identity } },
        });
        Assert.True(response.Item is { Count: > 0 }, $"no item {identity}");
        return response.Item;
    }

    [Fact]
    public async Task Rows_are_stored_in_Orleans_DynamoDB_schema()
    {
        var entry = NewEntry(SiloStatus.Active, port: 11111);
        entry.AddSuspector(SiloAddress.New(IPAddress.Parse("10.0.0.1"), 11111, 5), entry.IAmAliveTime);
        entry.AddSuspector(SiloAddress.New(IPAddress.Parse("10.0.0.2"), 11112, 6), entry.IAmAliveTime.AddSeconds(1));
        await InsertAsync(entry);

        int generation = entry.SiloAddress.Generation;
        var item = await RawItemAsync($"127.0.0.1-11111-{generation}");
        Assert.Equal(
            ["Address", "DeploymentId", "ETag", "Generation", "HostName", "IAmAliveTime", "MembershipVersion", "Port", "ProxyPort", "SiloIdentity", "SiloName",
             "SiloStatus", "StartTime", "SuspectingSilos", "SuspectingTimes"],
            item.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(ClusterId, item["DeploymentId"].S);
        Assert.Equal("127.0.0.1", item["Address"].S);
        Assert.Equal("11111", item["Port"].N);
        Assert.Equal(generation.ToString(), item["Generation"].N);
        Assert.Equal("3", item["SiloStatus"].N);
        Assert.Equal("21111", item["ProxyPort"].N);
        Assert.Equal("host-a", item["HostName"].S);
        Assert.Equal("silo-11111", item["SiloName"].S);
        Assert.Equal("2026-01-02 03:03:05.678 GMT", item["StartTime"].S);
        Assert.Equal("2026-01-02 03:04:05.678 GMT", item["IAmAliveTime"].S);
        Assert.Equal("10.0.0.1:11111@5|10.0.0.2:11112@6", item["SuspectingSilos"].S);
        Assert.Equal("2026-01-02 03:04:05.678 GMT|2026-01-02 03:04:06.678 GMT", item["SuspectingTimes"].S);
        Assert.Equal("0", item["ETag"].N);
        Assert.Equal("1", item["MembershipVersion"].N);

        // The version row as Orleans writes it: its silo attributes are zero.
        var version = await RawItemAsync("VersionRow");
        Assert.Equal(["DeploymentId", "ETag", "Generation", "MembershipVersion", "Port", "ProxyPort", "SiloIdentity", "SiloStatus"], version.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("1", "1", "0", "0", "0", "0"),
            (version["MembershipVersion"].N, version["ETag"].N, version["Port"].N, version["Generation"].N, version["SiloStatus"].N, version["ProxyPort"].N));

        // The etags handed out are the decimal strings of those numbers.
        var data = await Table.ReadAllAsync();
        Assert.Equal(new TableVersion(1, "1"), data.Version);
        Assert.Equal("0", Assert.Single(data.Members).Item2);
    }

    [Fact]
    public async Task Rows_written_as_the_official_provider_writes_them_are_read()
    {
        // Items exactly as Orleans.Clustering.DynamoDB writes them (its SiloInstanceRecord.GetFields).
        await _tables.Raw.PutItemAsync(new PutItemRequest
        {
            TableName = _tables.TableName,
            Item = new()
            {
                ["DeploymentId"] = new() { S = ClusterId }, ["SiloIdentity"] = new() { S = "VersionRow" },
                ["Port"] = new() { N = "0" }, ["Generation"] = new() { N = "0" }, ["SiloStatus"] = new() { N = "0" }, ["ProxyPort"] = new() { N = "0" },
                ["MembershipVersion"] = new() { N = "7" }, ["ETag"] = new() { N = "12" },
            },
        });
        await _tables.Raw.PutItemAsync(new PutItemRequest
        {
            TableName = _tables.TableName,
            Item = new()
            {
                ["DeploymentId"] = new() { S = ClusterId }, ["SiloIdentity"] = new() { S = "10.1.2.3-30000-99" },
                ["Address"] = new() { S = "10.1.2.3" }, ["Port"] = new() { N = "30000" }, ["Generation"] = new() { N = "99" },
                ["HostName"] = new() { S = "ip-10-1-2-3" }, ["SiloStatus"] = new() { N = "6" }, ["ProxyPort"] = new() { N = "30001" },
                ["SiloName"] = new() { S = "Silo_4f2a" }, ["SuspectingSilos"] = new() { S = "10.1.2.4:30000@98" },
                ["SuspectingTimes"] = new() { S = "2025-12-31 23:59:59.001 GMT" }, ["StartTime"] = new() { S = "2025-12-31 10:00:00.000 GMT" },
                ["IAmAliveTime"] = new() { S = "2025-12-31 23:50:00.250 GMT" }, ["MembershipVersion"] = new() { N = "7" }, ["ETag"] = new() { N = "3" },
            },
        });

        var data = await Table.ReadAllAsync();
        Assert.Equal(new TableVersion(7, "12"), data.Version);
        var (entry, etag) = Assert.Single(data.Members);
        Assert.Equal("3", etag);
        Assert.Equal(SiloAddress.New(IPAddress.Parse("10.1.2.3"), 30000, 99), entry.SiloAddress);
        Assert.Equal((SiloStatus.Dead, 30001, "ip-10-1-2-3", "Silo_4f2a"), (entry.Status, entry.ProxyPort, entry.HostName, entry.SiloName));
        Assert.Equal(new DateTime(2025, 12, 31, 23, 50, 0, 250, DateTimeKind.Utc), entry.IAmAliveTime);
        var vote = Assert.Single(entry.SuspectTimes!);
        Assert.Equal((SiloAddress.New(IPAddress.Parse("10.1.2.4"), 30000, 98), new DateTime(2025, 12, 31, 23, 59, 59, 1, DateTimeKind.Utc)), (vote.Item1, vote.Item2));

        // And the row is ours to update with what we read.
        entry.Status = SiloStatus.Active;
        Assert.True(await Table.UpdateRowAsync(entry, etag, data.Version.Next()));
        Assert.Equal("4", (await RawItemAsync("10.1.2.3-30000-99"))["ETag"].N);
    }

    [Fact]
    public async Task Initialization_creates_an_on_demand_table_with_the_official_keys()
    {
        var table = await _tables.DescribeAsync();
        Assert.Equal(TableStatus.ACTIVE, table.TableStatus);
        Assert.Equal(BillingMode.PAY_PER_REQUEST, table.BillingModeSummary?.BillingMode);
        Assert.Equal([("DeploymentId", "HASH"), ("SiloIdentity", "RANGE")], table.KeySchema.Select(k => (k.AttributeName, k.KeyType.Value)));
        Assert.All(table.AttributeDefinitions, a => Assert.Equal(ScalarAttributeType.S, a.AttributeType));
    }

    [Fact]
    public async Task Provisioned_throughput_is_an_option()
    {
        var options = NewOptions(_tables.OtherTable("provisioned"));
        options.UseProvisionedThroughput = true;
        options.ReadCapacityUnits = 7;
        options.WriteCapacityUnits = 3;
        await Open(ClusterId, options).InitializeMembershipTableAsync(true);
        var table = await _tables.DescribeAsync(options.TableName);
        Assert.Equal((7L, 3L), (table.ProvisionedThroughput.ReadCapacityUnits ?? 0, table.ProvisionedThroughput.WriteCapacityUnits ?? 0));
        Assert.NotEqual(BillingMode.PAY_PER_REQUEST, table.BillingModeSummary?.BillingMode);
    }

    [Fact]
    public async Task Silos_initializing_a_missing_table_at_once_all_succeed()
    {
        string name = _tables.OtherTable("race");
        var tables = Enumerable.Range(0, 4).Select(_ => Open(ClusterId, NewOptions(name))).ToList();
        await Task.WhenAll(tables.Select(t => Task.Run(() => t.InitializeMembershipTableAsync(true)))).WaitAsync(TimeSpan.FromSeconds(60));
        var data = await tables[0].ReadAllAsync();
        Assert.Equal(new TableVersion(0, "0"), data.Version);
        Assert.Empty(data.Members);
    }

    [Fact]
    public async Task A_missing_table_without_CreateIfNotExists_is_a_clear_start_up_error()
    {
        var options = NewOptions(_tables.OtherTable("missing"));
        options.CreateIfNotExists = false;
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Open(ClusterId, options).InitializeMembershipTableAsync(true));
        Assert.Contains($"The DynamoDB membership table '{options.TableName}' does not exist at {dynamo.ServiceUrl}", e.Message);
        Assert.Contains("DynamoDBClustering:CreateIfNotExists is false", e.Message);
        Assert.Contains("hash key DeploymentId (S), range key SiloIdentity (S)", e.Message);
    }

    [Fact]
    public async Task A_table_of_another_schema_is_a_clear_start_up_error()
    {
        string foreign = await _tables.CreateForeignTableAsync();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Open(ClusterId, NewOptions(foreign)).InitializeMembershipTableAsync(true));
        Assert.Contains($"'{foreign}'", e.Message);
        Assert.Contains("key schema [Id (S) HASH]", e.Message);
        Assert.Contains("[DeploymentId (S) HASH, SiloIdentity (S) RANGE]", e.Message);
        Assert.Contains("Choose another DynamoDBClustering:TableName", e.Message);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_a_clear_start_up_error_for_silos_and_clients()
    {
        var options = new DynamoDBClusteringOptions { Service = DynamoDbLocalFixture.UnusedLoopbackUrl(), MaxErrorRetry = 0, RequestTimeout = TimeSpan.FromSeconds(2) };
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Open(ClusterId, options).InitializeMembershipTableAsync(true));
        Assert.StartsWith($"Could not reach DynamoDB at {options.Service} while describing the table (membership table 'OrleansSilos'). Check DynamoDBClustering:Service", e.Message);

        using var client = options.CreateClient();
        var gateways = new DynamoDBGatewayListProvider(client, options, ClusterId, TimeSpan.FromMinutes(1));
        e = await Assert.ThrowsAsync<InvalidOperationException>(() => gateways.InitializeGatewayListProviderAsync());
        Assert.StartsWith($"Could not reach DynamoDB at {options.Service} while reading the gateways", e.Message);
    }

    [Fact]
    public async Task A_client_of_a_cluster_whose_table_does_not_exist_is_told_so_and_creates_nothing()
    {
        var options = NewOptions(_tables.OtherTable("no-silos-yet"));
        using var client = options.CreateClient();
        var gateways = new DynamoDBGatewayListProvider(client, options, ClusterId, TimeSpan.FromMinutes(1));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => gateways.InitializeGatewayListProviderAsync());
        Assert.Contains($"The DynamoDB membership table '{options.TableName}' does not exist at {dynamo.ServiceUrl}: no silo of cluster '{ClusterId}' has started", e.Message);
        await Assert.ThrowsAsync<ResourceNotFoundException>(() => _tables.DescribeAsync(options.TableName));
        Assert.Equal(["Query"], gateways.Requests.ByOperation.Keys);
    }

    [Fact]
    public async Task Many_rows_are_read_across_query_pages_and_deleted_in_several_batches()
    {
        // Items of ~40 KB each (a long host name): DynamoDB pages a query at 1 MB, so 30 rows take two pages.
        const int Rows = 30;
        for (int i = 0; i < Rows; i++)
        {
            var entry = NewEntry(port: 30000 + i);
            entry.HostName = new string('h', 40_000);
            await InsertAsync(entry);
        }
        long queries = Dynamo.Requests.Of("Query");
        var data = await Table.ReadAllAsync();
        Assert.Equal(Rows, data.Members.Count);
        Assert.True(Dynamo.Requests.Of("Query") - queries >= 2, "expected a query of several pages");

        long batches = Dynamo.Requests.Of("BatchWriteItem");
        await Table.DeleteMembershipTableEntriesAsync(ClusterId);
        Assert.Equal(2, Dynamo.Requests.Of("BatchWriteItem") - batches); // 31 items, 25 a batch
        Assert.Empty((await Table.ReadAllAsync()).Members);
    }

    [Fact]
    public async Task A_row_newer_than_the_version_row_makes_a_bounded_number_of_reads()
    {
        var entry = NewEntry();
        await InsertAsync(entry);
        // As if a write landed between the two reads, every time: a row claiming a future version.
        await _tables.Raw.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = _tables.TableName,
            Key = new() { ["DeploymentId"] = new() { S = ClusterId }, ["SiloIdentity"] = new() { S = $"127.0.0.1-11111-{entry.SiloAddress.Generation}" } },
            UpdateExpression = "SET MembershipVersion = :v",
            ExpressionAttributeValues = new() { [":v"] = new() { N = "99" } },
        });
        long reads = Dynamo.Requests.Reads;
        var data = await Table.ReadAllAsync();
        Assert.Single(data.Members);
        Assert.Equal(1, data.Version.Version);
        Assert.Equal(3 * 2, Dynamo.Requests.Reads - reads); // 3 attempts of GetItem + Query
    }

    [Fact]
    public async Task A_malformed_row_is_left_out_and_the_others_are_read()
    {
        var entry = NewEntry(port: 1);
        await InsertAsync(entry);
        await _tables.Raw.PutItemAsync(new PutItemRequest
        {
            TableName = _tables.TableName,
            Item = new() { ["DeploymentId"] = new() { S = ClusterId }, ["SiloIdentity"] = new() { S = "garbage" }, ["Address"] = new() { S = "not-an-ip" }, ["ETag"] = new() { N = "0" } },
        });
        AssertSameEntry(entry, Assert.Single((await Table.ReadAllAsync()).Members).Item1);
    }
}
