using System.Net;
using System.Reflection;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Orleans.Runtime;
using Orleans.Shuffle.Clustering.DynamoDB;

namespace Orleans.Shuffle.Providers.Tests.Membership;

/// <summary>
/// Answers of the real DynamoDB service that DynamoDB Local never gives, played by a fake client:
/// DynamoDB Local accepts any credentials, checks no IAM permissions and rarely has two transactions
/// conflict. Everything DynamoDB Local can show is tested against it instead.
/// </summary>
public sealed class DynamoDBAnswersTests
{
    /// <summary>An IAmazonDynamoDB whose calls go to <see cref="Handler"/> by method name.</summary>
    public class FakeDynamoDB : DispatchProxy
    {
        public Func<string, object?> Handler { get; set; } = name => throw new NotSupportedException(name);

        public List<string> Calls { get; } = [];

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            lock (Calls) Calls.Add(method!.Name);
            return method.Name == "Dispose" ? null : Handler(method.Name);
        }

        public static (IAmazonDynamoDB Client, FakeDynamoDB Fake) Create(Func<string, object?> handler)
        {
            var client = DispatchProxy.Create<IAmazonDynamoDB, FakeDynamoDB>();
            var fake = (FakeDynamoDB)(object)client;
            fake.Handler = handler;
            return (client, fake);
        }
    }

    private static readonly DynamoDBClusteringOptions RegionOptions = new() { Service = "eu-west-1", TableName = "Silos", TableReadyTimeout = TimeSpan.FromMilliseconds(300) };

    private static DynamoDBMembershipTable Table(IAmazonDynamoDB client) => new(client, RegionOptions, "c1");

    private static AmazonDynamoDBException ServiceError(string code, string message, HttpStatusCode status = HttpStatusCode.BadRequest) =>
        new(message, ErrorType.Sender, code, "request-1", status);

    private static Task<T> Fail<T>(Exception e) => Task.FromException<T>(e);

    private static TransactionCanceledException Cancelled(params string[] codes) => new("Transaction cancelled")
    {
        CancellationReasons = codes.Select(c => new CancellationReason { Code = c }).ToList(),
    };

    private static MembershipEntry Entry() => new()
    {
        SiloAddress = SiloAddress.New(IPAddress.Parse("10.0.0.1"), 11111, 42),
        Status = SiloStatus.Joining,
        HostName = "h",
        SiloName = "s",
    };

    [Fact]
    public async Task No_permission_to_create_a_missing_table_says_what_to_do()
    {
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Fail<DescribeTableResponse>(new ResourceNotFoundException("Requested resource not found")),
            "CreateTableAsync" => Fail<CreateTableResponse>(ServiceError("AccessDeniedException", "User arn:aws:iam::1:user/silo is not authorized to perform: dynamodb:CreateTable", HttpStatusCode.Forbidden)),
            _ => throw new NotSupportedException(name),
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Table(client).InitializeMembershipTableAsync(true));
        Assert.StartsWith("DynamoDB at region eu-west-1 denied access while creating the table (membership table 'Silos').", e.Message);
        Assert.Contains("create 'Silos' (hash key DeploymentId (S), range key SiloIdentity (S)) or grant dynamodb:CreateTable", e.Message);
    }

    [Fact]
    public async Task Rejected_credentials_point_at_the_keys_and_the_region()
    {
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Fail<DescribeTableResponse>(ServiceError("UnrecognizedClientException", "The security token included in the request is invalid.")),
            _ => throw new NotSupportedException(name),
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Table(client).InitializeMembershipTableAsync(true));
        Assert.StartsWith("DynamoDB at region eu-west-1 rejected the credentials while describing the table: check DynamoDBClustering:AccessKey/DynamoDBClustering:SecretKey", e.Message);
        Assert.Contains("DynamoDBClustering:Service names the region the keys belong to", e.Message);
    }

    [Fact]
    public async Task Missing_credentials_name_the_ways_to_provide_them()
    {
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Fail<DescribeTableResponse>(new AmazonClientException("Failed to resolve AWS credentials. The credential providers used to search for credentials returned the following errors: ...")),
            _ => throw new NotSupportedException(name),
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Table(client).InitializeMembershipTableAsync(true));
        Assert.StartsWith("No AWS credentials for DynamoDB at region eu-west-1: set DynamoDBClustering:AccessKey and DynamoDBClustering:SecretKey, or provide credentials to the default AWS chain", e.Message);
    }

    [Fact]
    public async Task A_client_without_permission_to_query_is_told_it_needs_Query()
    {
        var (client, fake) = FakeDynamoDB.Create(name => name switch
        {
            "QueryAsync" => Fail<QueryResponse>(ServiceError("AccessDeniedException", "not authorized to perform: dynamodb:Query", HttpStatusCode.Forbidden)),
            _ => throw new NotSupportedException(name),
        });
        var gateways = new DynamoDBGatewayListProvider(client, RegionOptions, "c1", TimeSpan.FromMinutes(1));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => gateways.InitializeGatewayListProviderAsync());
        Assert.StartsWith("DynamoDB at region eu-west-1 denied the client access to the membership table 'Silos': a client needs dynamodb:Query on it.", e.Message);
        Assert.Equal(["QueryAsync"], fake.Calls);
    }

    [Fact]
    public async Task A_table_that_never_becomes_active_times_out_clearly()
    {
        var (client, fake) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Task.FromResult(new DescribeTableResponse
            {
                Table = new TableDescription
                {
                    TableStatus = TableStatus.CREATING,
                    KeySchema = [new() { AttributeName = "DeploymentId", KeyType = KeyType.HASH }, new() { AttributeName = "SiloIdentity", KeyType = KeyType.RANGE }],
                    AttributeDefinitions = [new() { AttributeName = "DeploymentId", AttributeType = ScalarAttributeType.S }, new() { AttributeName = "SiloIdentity", AttributeType = ScalarAttributeType.S }],
                },
            }),
            _ => throw new NotSupportedException(name),
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Table(client).InitializeMembershipTableAsync(true));
        Assert.Equal("The DynamoDB membership table 'Silos' at region eu-west-1 is CREATING, not ACTIVE, after 0.3 s (DynamoDBClustering:TableReadyTimeout).", e.Message);
        Assert.InRange(fake.Calls.Count, 2, 10); // polled, with pauses, until the deadline
    }

    [Fact]
    public async Task A_transaction_conflict_is_retried_and_the_conditions_decide()
    {
        int transactions = 0;
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "TransactWriteItemsAsync" => ++transactions < 3
                ? Fail<TransactWriteItemsResponse>(Cancelled("None", "TransactionConflict"))
                : Task.FromResult(new TransactWriteItemsResponse()),
            _ => throw new NotSupportedException(name),
        });
        Assert.True(await Table(client).InsertRowAsync(Entry(), new TableVersion(1, "0")));
        Assert.Equal(3, transactions);
    }

    [Fact]
    public async Task A_failed_condition_is_a_lost_race_and_endless_conflicts_give_up()
    {
        var (lost, lostFake) = FakeDynamoDB.Create(name => name switch
        {
            "TransactWriteItemsAsync" => Fail<TransactWriteItemsResponse>(Cancelled("ConditionalCheckFailed", "None")),
            _ => throw new NotSupportedException(name),
        });
        Assert.False(await Table(lost).UpdateRowAsync(Entry(), "4", new TableVersion(2, "1")));
        Assert.Single(lostFake.Calls);

        var (busy, busyFake) = FakeDynamoDB.Create(name => name switch
        {
            "TransactWriteItemsAsync" => Fail<TransactWriteItemsResponse>(Cancelled("TransactionConflict", "None")),
            _ => throw new NotSupportedException(name),
        });
        Assert.False(await Table(busy).UpdateRowAsync(Entry(), "4", new TableVersion(2, "1")));
        Assert.Equal(5, busyFake.Calls.Count);

        // Other cancellations (throttling, validation) are errors, not lost races.
        var (throttled, _) = FakeDynamoDB.Create(name => name switch
        {
            "TransactWriteItemsAsync" => Fail<TransactWriteItemsResponse>(Cancelled("ThrottlingError", "None")),
            _ => throw new NotSupportedException(name),
        });
        await Assert.ThrowsAsync<TransactionCanceledException>(() => Table(throttled).InsertRowAsync(Entry(), new TableVersion(1, "0")));
    }
}
