using Orleans.Shuffle.Job;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>The job tool's --membership, --dynamodb-service, --dynamodb-table and --cluster-id, and how workers are told where the grid is.</summary>
public class JobDynamoDBOptionsTests
{
    private static JobOptions Bind(params string[] args) => JobCommand.Bind(JobCommand.Create().Parse(args));

    private static string BindError(params string[] args) => Assert.Throws<JobOptionsException>(() => Bind(args)).Message;

    [Fact]
    public void Without_a_membership_flag_the_job_is_as_before()
    {
        var local = Bind();
        Assert.Null(local.DynamoDB);
        Assert.True(local.StartsLocalGrid);
        Assert.Equal("file", local.Membership);

        var joined = Bind("--grid", "127.0.0.1:7000", "--membership", "file");
        Assert.Null(joined.DynamoDB);
        Assert.False(joined.StartsLocalGrid);
    }

    [Fact]
    public void Membership_dynamodb_starts_a_local_grid_on_the_table_or_joins_a_cluster_id()
    {
        var local = Bind("--membership", "dynamodb", "--dynamodb-service", "http://127.0.0.1:8000");
        Assert.Equal(new DynamoDBSettings("http://127.0.0.1:8000"), local.DynamoDB);
        Assert.Equal("OrleansShuffleSilos", local.DynamoDB!.Table);
        Assert.True(local.StartsLocalGrid);
        Assert.Equal("dynamodb", local.Membership);
        Assert.Equal(["--membership", "dynamodb", "--dynamodb-service", "http://127.0.0.1:8000"], local.DynamoDB.SiloArguments());

        var joined = Bind("--membership", "DynamoDB", "--dynamodb-service", "eu-west-1", "--dynamodb-table", "MySilos", "--cluster-id", "prod");
        Assert.Equal(new DynamoDBSettings("eu-west-1", "MySilos"), joined.DynamoDB);
        Assert.Equal("prod", joined.ClusterId);
        Assert.False(joined.StartsLocalGrid);
        Assert.Contains("--Membership:DynamoDB:TableName=MySilos", joined.DynamoDB!.SiloArguments());
    }

    [Fact]
    public void Impossible_combinations_are_refused_naming_the_flags()
    {
        Assert.Contains("--dynamodb-service", BindError("--membership", "dynamodb"));
        Assert.Contains("--membership dynamodb", BindError("--dynamodb-service", "us-east-1"));
        Assert.Contains("--membership dynamodb", BindError("--cluster-id", "c1"));
        Assert.Contains("not known", BindError("--membership", "zookeeper"));
        Assert.Contains("--cluster-id", BindError("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--grid", "127.0.0.1:7000"));
        Assert.Contains("--dynamodb-service 'not a region'", BindError("--membership", "dynamodb", "--dynamodb-service", "not a region"));
        Assert.Contains("--dynamodb-table 'x'", BindError("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--dynamodb-table", "x"));
        Assert.Contains("--kill-silo", BindError("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--cluster-id", "c1", "--kill-silo", "grain"));
        Assert.Contains("--silo-arg", BindError("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--cluster-id", "c1", "--silo-arg=--x=1"));
    }

    [Fact]
    public void Workers_get_the_table_and_cluster_id_instead_of_gateways()
    {
        var access = GridAccess.ByDynamoDB(new DynamoDBSettings("http://127.0.0.1:8000", "MySilos"), "job-grid-1");
        var map = new MapTaskSettings(access, "app", 0, 4, 8, 2, 1, 1000, 100, 42, 0.25, 123) { Replicas = 1 };
        var args = WorkerCommands.ToArguments(map);
        Assert.DoesNotContain("--grid", args);
        var parsedMap = WorkerCommands.BindMapTask(WorkerCommands.CreateMapTaskCommand().Parse(args.Skip(1).ToArray()));
        Assert.Equal((access.DynamoDB, access.ClusterId), (parsedMap.Grid.DynamoDB, parsedMap.Grid.ClusterId));
        Assert.Empty(parsedMap.Grid.Gateways);
        Assert.Equal((map.MapId, map.AttemptId, map.Replicas), (parsedMap.MapId, parsedMap.AttemptId, parsedMap.Replicas));

        var reduce = new ReduceTaskSettings(access, "app", 0, 3, [3, 7], 123);
        var reduceArgs = WorkerCommands.ToArguments(reduce);
        var parsedReduce = WorkerCommands.BindReduceTask(WorkerCommands.CreateReduceTaskCommand().Parse(reduceArgs.Skip(1).ToArray()));
        Assert.Equal((access.DynamoDB, access.ClusterId), (parsedReduce.Grid.DynamoDB, parsedReduce.Grid.ClusterId));
        Assert.Equal([3, 7], parsedReduce.Partitions);

        // Fixed gateways still go as --grid.
        var byGateways = new ReduceTaskSettings(GridAccess.ByGateways(["127.0.0.1:7000", "127.0.0.1:7001"]), "app", 0, 0, [0], null);
        var gridArgs = WorkerCommands.ToArguments(byGateways);
        Assert.Contains("--grid", gridArgs);
        Assert.Equal(["127.0.0.1:7000", "127.0.0.1:7001"],
            WorkerCommands.BindReduceTask(WorkerCommands.CreateReduceTaskCommand().Parse(gridArgs.Skip(1).ToArray())).Grid.Gateways);
    }
}
