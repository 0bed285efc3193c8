using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Infrastructure;

/// <summary>
/// The DynamoDB side of one test: its own table name, a raw client of the emulator that goes around
/// the provider, and what the test opened. <see cref="DisposeAsync"/> deletes every table the test
/// named and disposes what it opened.
/// </summary>
public sealed class DynamoDbTestTables(DynamoDbLocalFixture dynamo, string prefix) : IAsyncDisposable
{
    private readonly List<IDisposable> _opened = [];
    private readonly List<string> _tables = [];

    /// <summary>The test's own table.</summary>
    public string TableName { get; } = DynamoDbLocalFixture.UniqueTableName(prefix);

    /// <summary>A client of the emulator that goes around the provider, to look at and change items directly.</summary>
    public AmazonDynamoDBClient Raw { get; } = dynamo.CreateClient();

    /// <summary>Another table name, deleted with the test.</summary>
    public string OtherTable(string otherPrefix)
    {
        string name = DynamoDbLocalFixture.UniqueTableName(otherPrefix);
        lock (_tables) _tables.Add(name);
        return name;
    }

    /// <summary>Returns <paramref name="opened"/>, to be disposed with the test.</summary>
    public T Track<T>(T opened) where T : IDisposable
    {
        lock (_opened) _opened.Add(opened);
        return opened;
    }

    /// <summary>Creates a table keyed only by a string "Id": no provider's schema.</summary>
    public async Task<string> CreateForeignTableAsync()
    {
        string name = OtherTable("foreign");
        await Raw.CreateTableAsync(new CreateTableRequest
        {
            TableName = name,
            BillingMode = BillingMode.PAY_PER_REQUEST,
            AttributeDefinitions = [new AttributeDefinition { AttributeName = "Id", AttributeType = ScalarAttributeType.S }],
            KeySchema = [new KeySchemaElement { AttributeName = "Id", KeyType = KeyType.HASH }],
        });
        return name;
    }

    public async Task<TableDescription> DescribeAsync(string? tableName = null) =>
        (await Raw.DescribeTableAsync(new DescribeTableRequest { TableName = tableName ?? TableName })).Table;

    /// <summary>Every item whose hash key <paramref name="hashKey"/> is <paramref name="value"/>.</summary>
    public async Task<List<Dictionary<string, AttributeValue>>> QueryAsync(string hashKey, string value)
    {
        var items = new List<Dictionary<string, AttributeValue>>();
        Dictionary<string, AttributeValue>? start = null;
        // Bounded by the items the test wrote.
        do
        {
            var response = await Raw.QueryAsync(new QueryRequest
            {
                TableName = TableName,
                ConsistentRead = true,
                KeyConditionExpression = "#k = :v",
                ExpressionAttributeNames = new() { ["#k"] = hashKey },
                ExpressionAttributeValues = new() { [":v"] = new AttributeValue { S = value } },
                ExclusiveStartKey = start,
            });
            items.AddRange(response.Items ?? []);
            start = response.LastEvaluatedKey is { Count: > 0 } next ? next : null;
        }
        while (start is not null);
        return items;
    }

    public async ValueTask DisposeAsync()
    {
        lock (_opened)
        {
            foreach (var opened in _opened) opened.Dispose();
        }
        foreach (string table in _tables.Append(TableName))
        {
            try
            {
                await Raw.DeleteTableAsync(new DeleteTableRequest { TableName = table });
            }
            catch (ResourceNotFoundException)
            {
            }
        }
        Raw.Dispose();
    }
}
