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
    private readonly DynamoDbProviderTables _tables = new(dynamo, "grain-directory");

    private DynamoDBClusteringOptions Options(string? tableName = null)
    {
        var options = _tables.Options();
        options.GrainDirectory.TableName = tableName ?? _tables.TableName;
        return options;
    }

    private DynamoDBGrainDirectory Open(string? clusterId = null) => _tables.Track(new DynamoDBGrainDirectory(Options(), clusterId ?? _tables.ClusterId));

    protected override async Task<IGrainDirectory> CreateDirectoryAsync()
    {
        var directory = Open();
        await directory.InitializeAsync();
        return directory;
    }

    protected override IGrainDirectory OpenSameDirectory() => Open();

    public override Task DisposeAsync() => _tables.DisposeAsync();

    [Fact]
    public async Task A_registration_is_one_item_keyed_by_cluster_and_grain()
    {
        await Directory.Register(new GrainAddress(Grain(), Silo(1)), null);
        var response = await _tables.Raw.GetItemAsync(new GetItemRequest
        {
            TableName = _tables.TableName,
            ConsistentRead = true,
            Key = new() { ["ClusterId"] = new() { S = _tables.ClusterId }, ["GrainId"] = new() { S = Grain() } },
        });
        Assert.Equal(Silo(1), response.Item["SiloIdentity"].S);
        Assert.Equal(3, response.Item.Count);
    }

    [Fact]
    public async Task Clusters_sharing_the_table_are_kept_apart()
    {
        var other = Open(_tables.ClusterId + "-b");
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
        var table = (await _tables.Raw.DescribeTableAsync(new DescribeTableRequest { TableName = _tables.TableName })).Table;
        Assert.Equal(BillingMode.PAY_PER_REQUEST, table.BillingModeSummary?.BillingMode ?? BillingMode.PAY_PER_REQUEST);
        Assert.Equal(["ClusterId", "GrainId"], table.KeySchema.OrderBy(k => k.KeyType.Value).Select(k => k.AttributeName));
    }

    [Fact]
    public async Task Operations_create_the_table_when_nobody_initialized_it()
    {
        string tableName = DynamoDbLocalFixture.UniqueTableName("lazy-directory");
        using var directory = new DynamoDBGrainDirectory(Options(tableName), _tables.ClusterId);
        try
        {
            Assert.Null(await directory.Lookup(Grain()));
        }
        finally
        {
            await _tables.Raw.DeleteTableAsync(new DeleteTableRequest { TableName = tableName });
        }
    }

    [Fact]
    public async Task A_table_of_another_schema_is_a_clear_start_up_error()
    {
        var e = await _tables.InitializeOnForeignTableAsync(
            foreign => new DynamoDBGrainDirectory(Options(foreign), _tables.ClusterId), directory => directory.InitializeAsync());
        Assert.Contains("not the grain directory table's [ClusterId (HASH), GrainId (RANGE)]", e.Message);
        Assert.Contains("Membership:DynamoDB:GrainDirectory:TableName", e.Message);
    }

    [Fact]
    public async Task An_unreachable_DynamoDB_is_a_clear_start_up_error()
    {
        var e = await DynamoDbProviderTables.InitializeUnreachableAsync(
            options => new DynamoDBGrainDirectory(options, _tables.ClusterId), directory => directory.InitializeAsync());
        Assert.Contains("grain directory table 'OrleansShuffleGrainDirectory'", e.Message);
    }
}
