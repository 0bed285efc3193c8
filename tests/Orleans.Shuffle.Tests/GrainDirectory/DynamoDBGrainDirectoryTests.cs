using System.Net;
using System.Net.Sockets;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.GrainDirectory;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.GrainDirectory;

/// <summary>
/// The conformance suite against DynamoDB Local, plus the stored schema, clusters sharing a table,
/// table creation and the start-up errors. Each test gets its own table and cluster id.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBGrainDirectoryTests(DynamoDbLocalFixture dynamo) : GrainDirectoryTestsBase
{
    private readonly string _tableName = DynamoDbLocalFixture.UniqueTableName("grain-directory");
    private readonly string _clusterId = "ddb-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<IDisposable> _opened = [];
    private readonly AmazonDynamoDBClient _raw = dynamo.CreateClient();

    private DynamoDBClusteringOptions Options(string? tableName = null)
    {
        var options = dynamo.Options(DynamoDbLocalFixture.UniqueTableName("unused-silos"));
        options.GrainDirectory.TableName = tableName ?? _tableName;
        return options;
    }

    private DynamoDBGrainDirectory Open(string? clusterId = null)
    {
        var directory = new DynamoDBGrainDirectory(Options(), clusterId ?? _clusterId);
        lock (_opened) _opened.Add(directory);
        return directory;
    }

    protected override async Task<IGrainDirectory> CreateDirectoryAsync()
    {
        var directory = Open();
        await directory.InitializeAsync();
        return directory;
    }

    protected override IGrainDirectory OpenSameDirectory() => Open();

    public override async Task DisposeAsync()
    {
        try
        {
            await _raw.DeleteTableAsync(new DeleteTableRequest { TableName = _tableName });
        }
        catch (ResourceNotFoundException)
        {
        }
        lock (_opened)
        {
            foreach (var opened in _opened) opened.Dispose();
        }
        _raw.Dispose();
    }

    [Fact]
    public async Task A_registration_is_one_item_keyed_by_cluster_and_grain()
    {
        await Directory.Register(new GrainAddress(Grain(), Silo(1)), null);
        var response = await _raw.GetItemAsync(new GetItemRequest
        {
            TableName = _tableName,
            ConsistentRead = true,
            Key = new() { ["ClusterId"] = new() { S = _clusterId }, ["GrainId"] = new() { S = Grain() } },
        });
        Assert.Equal(Silo(1), response.Item["SiloIdentity"].S);
        Assert.Equal(3, response.Item.Count);
    }

    [Fact]
    public async Task Clusters_sharing_the_table_are_kept_apart()
    {
        var other = Open(_clusterId + "-b");
        await Directory.Register(new GrainAddress(Grain(), Silo(1)), null);
        Assert.Null(await other.Lookup(Grain()));
        Assert.Equal(new GrainAddress(Grain(), Silo(2)), await other.Register(new GrainAddress(Grain(), Silo(2)), null));
        await other.UnregisterSilos([Silo(1), Silo(2)]);
        Assert.Equal(new GrainAddress(Grain(), Silo(1)), await Directory.Lookup(Grain()));
        Assert.Null(await other.Lookup(Grain()));
    }

    [Fact]
    public async Task The_table_is_created_on_demand()
    {
        var table = (await _raw.DescribeTableAsync(new DescribeTableRequest { TableName = _tableName })).Table;
        Assert.Equal(BillingMode.PAY_PER_REQUEST, table.BillingModeSummary?.BillingMode ?? BillingMode.PAY_PER_REQUEST);
        Assert.Equal(["ClusterId", "GrainId"], table.KeySchema.OrderBy(k => k.KeyType.Value).Select(k => k.AttributeName));
    }

    [Fact]
    public async Task Operations_create_the_table_when_nobody_initialized_it()
    {
        string tableName = DynamoDbLocalFixture.UniqueTableName("lazy-directory");
        using var directory = new DynamoDBGrainDirectory(Options(tableName), _clusterId);
        try
        {
            Assert.Null(await directory.Lookup(Grain()));
        }
        finally
        {
            await _raw.DeleteTableAsync(new DeleteTableRequest { TableName = tableName });
        }
    }

    [Fact]
    public async Task A_table_of_another_schema_is_a_clear_start_up_error()
    {
        string foreign = DynamoDbLocalFixture.UniqueTableName("foreign");
        using (var membership = new DynamoDBMembershipTable(dynamo.Options(foreign), _clusterId))
            await membership.InitializeMembershipTable(tryInitTableVersion: false);
        try
        {
            using var directory = new DynamoDBGrainDirectory(Options(foreign), _clusterId);
            var e = await Assert.ThrowsAsync<InvalidOperationException>(directory.InitializeAsync);
            Assert.Contains("not the grain directory table's [ClusterId (HASH), GrainId (RANGE)]", e.Message);
            Assert.Contains("Membership:DynamoDB:GrainDirectory:TableName", e.Message);
        }
        finally
        {
            await _raw.DeleteTableAsync(new DeleteTableRequest { TableName = foreign });
        }
    }

    [Fact]
    public async Task An_unreachable_DynamoDB_is_a_clear_start_up_error()
    {
        string url;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            url = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        }
        var options = new DynamoDBClusteringOptions { Service = url, MaxErrorRetry = 0, RequestTimeout = TimeSpan.FromSeconds(2) };
        using var directory = new DynamoDBGrainDirectory(options, _clusterId);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(directory.InitializeAsync);
        Assert.StartsWith($"Could not reach DynamoDB at {url}", e.Message);
        Assert.Contains("grain directory table 'OrleansShuffleGrainDirectory'", e.Message);
    }
}
