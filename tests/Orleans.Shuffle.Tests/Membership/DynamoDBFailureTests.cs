using System.Net;
using System.Reflection;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>
/// What DynamoDB Local cannot show (it checks no permissions or credentials, and rarely conflicts):
/// answers of the real service, played by a fake client.
/// </summary>
public sealed class DynamoDBFailureTests
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

    private static DynamoDBMembershipTable Table(IAmazonDynamoDB client) =>
        new(client, new DynamoDBClusteringOptions { Service = "eu-west-1", TableName = "Silos" }, "c1");

    private static AmazonDynamoDBException ServiceError(string code, string message, HttpStatusCode status = HttpStatusCode.BadRequest) =>
        new(message, ErrorType.Sender, code, "request-1", status);

    private static Task<T> Fail<T>(Exception e) => Task.FromException<T>(e);

    [Fact]
    public async Task No_permission_to_create_a_missing_table_says_what_to_do()
    {
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Fail<DescribeTableResponse>(new ResourceNotFoundException("Requested resource not found")),
            "CreateTableAsync" => Fail<CreateTableResponse>(ServiceError("AccessDeniedException", "User arn:aws:iam::1:user/silo is not authorized to perform: dynamodb:CreateTable")),
            _ => throw new NotSupportedException(name),
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Table(client).InitializeMembershipTable(true));
        Assert.Contains("denied access while creating the table", e.Message);
        Assert.Contains("create 'Silos'", e.Message);
        Assert.Contains("dynamodb:CreateTable", e.Message);
        Assert.Contains("region eu-west-1", e.Message);
    }

    [Fact]
    public async Task Rejected_credentials_point_at_the_keys_and_the_region()
    {
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Fail<DescribeTableResponse>(ServiceError("UnrecognizedClientException", "The security token included in the request is invalid.")),
            _ => throw new NotSupportedException(name),
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Table(client).InitializeMembershipTable(true));
        Assert.Contains("rejected the credentials", e.Message);
        Assert.Contains("Membership:DynamoDB:AccessKey", e.Message);
        Assert.Contains("region", e.Message);
    }

    [Fact]
    public async Task Missing_credentials_name_the_ways_to_provide_them()
    {
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Fail<DescribeTableResponse>(new AmazonClientException("Failed to resolve AWS credentials. The credential providers used to search for credentials returned the following errors: ...")),
            _ => throw new NotSupportedException(name),
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Table(client).InitializeMembershipTable(true));
        Assert.Contains("No AWS credentials", e.Message);
        Assert.Contains("default AWS chain", e.Message);
    }

    [Fact]
    public async Task A_table_that_never_becomes_active_times_out_clearly()
    {
        var (client, _) = FakeDynamoDB.Create(name => name switch
        {
            "DescribeTableAsync" => Task.FromResult(new DescribeTableResponse { Table = new TableDescription { TableStatus = TableStatus.CREATING, KeySchema = Keys() } }),
            _ => throw new NotSupportedException(name),
        });
        var options = new DynamoDBClusteringOptions { Service = "eu-west-1", TableName = "Silos", TableReadyTimeout = TimeSpan.FromMilliseconds(300) };
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => new DynamoDBMembershipTable(client, options, "c1").InitializeMembershipTable(true));
        Assert.Contains("CREATING, not ACTIVE", e.Message);
        Assert.Contains("TableReadyTimeout", e.Message);
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
        Assert.True(await Table(client).InsertRow(Entry(), new TableVersion(1, "0")));
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
        Assert.False(await Table(lost).UpdateRow(Entry(), "4", new TableVersion(2, "1")));
        Assert.Single(lostFake.Calls);

        var (busy, busyFake) = FakeDynamoDB.Create(name => name switch
        {
            "TransactWriteItemsAsync" => Fail<TransactWriteItemsResponse>(Cancelled("TransactionConflict", "None")),
            _ => throw new NotSupportedException(name),
        });
        Assert.False(await Table(busy).UpdateRow(Entry(), "4", new TableVersion(2, "1")));
        Assert.Equal(5, busyFake.Calls.Count);

        // Other cancellations (throttling, validation) are errors, not lost races.
        var (throttled, _) = FakeDynamoDB.Create(name => name switch
        {
            "TransactWriteItemsAsync" => Fail<TransactWriteItemsResponse>(Cancelled("ThrottlingError", "None")),
            _ => throw new NotSupportedException(name),
        });
        await Assert.ThrowsAsync<TransactionCanceledException>(() => Table(throttled).InsertRow(Entry(), new TableVersion(1, "0")));
    }

    private static TransactionCanceledException Cancelled(params string[] codes) => new("Transaction cancelled")
    {
        CancellationReasons = codes.Select(c => new CancellationReason { Code = c }).ToList(),
    };

    private static List<KeySchemaElement> Keys() =>
    [
        new() { AttributeName = "DeploymentId", KeyType = KeyType.HASH },
        new() { AttributeName = "SiloIdentity", KeyType = KeyType.RANGE },
    ];

    private static MembershipEntry Entry() => new()
    {
        SiloAddress = new SiloAddress("10.0.0.1", 11111, 42),
        Status = SiloStatus.Joining,
        StartTime = DateTimeOffset.UnixEpoch,
        IAmAliveTime = DateTimeOffset.UnixEpoch,
    };
}
