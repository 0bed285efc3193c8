using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Job;
using Orleans.Shuffle.Job.Executors;
using Orleans.Shuffle.Job.Tasks;

namespace Orleans.Shuffle.Tests.Job;

/// <summary>The job tool's grid options (--membership, --membership-dir, --dynamodb-*, --cluster-id, --grid, --executors) and what executors are told.</summary>
public class JobOptionsTests
{
    internal static JobOptions Bind(params string[] args) => JobCommand.Bind(JobCommand.Create().Parse(args));

    internal static string BindError(params string[] args) => Assert.Throws<JobOptionsException>(() => Bind(args)).Message;

    [Fact]
    public void Without_grid_flags_the_job_starts_a_local_grid_on_the_embedded_stores()
    {
        var local = Bind();
        Assert.Null(local.DynamoDB);
        Assert.Null(local.JoinedGrid);
        Assert.True(local.StartsLocalGrid);
        Assert.Equal("file", local.Membership);
        Assert.Equal(Math.Max(2, Environment.ProcessorCount), local.Executors);
    }

    [Fact]
    public void A_cluster_id_or_gateways_join_a_running_grid()
    {
        var byDirectory = Bind("--cluster-id", "demo");
        Assert.Equal(new GridAccess("demo", Path.Combine(Path.GetTempPath(), "orleans-shuffle", "demo"), null, null), byDirectory.JoinedGrid);

        var byOwnDirectory = Bind("--cluster-id", "demo", "--membership-dir", "/var/lib/shuffle/demo");
        Assert.Equal("/var/lib/shuffle/demo", byOwnDirectory.JoinedGrid!.MembershipDirectory);

        var byGateways = Bind("--grid", "127.0.0.1:30000,127.0.0.1:30001", "--cluster-id", "demo");
        Assert.Equal(["127.0.0.1:30000", "127.0.0.1:30001"], byGateways.JoinedGrid!.Gateways);
        Assert.Equal("demo", byGateways.JoinedGrid.ClusterId);
        Assert.Equal("dev", Bind("--grid", "127.0.0.1:30000").JoinedGrid!.ClusterId);

        var byTable = Bind("--membership", "DynamoDB", "--dynamodb-service", "eu-west-1", "--dynamodb-table", "MySilos", "--cluster-id", "prod");
        Assert.Equal(new DynamoDBSettings("eu-west-1", "MySilos"), byTable.JoinedGrid!.DynamoDB);
        Assert.Equal("dynamodb", byTable.Membership);
        Assert.False(byTable.StartsLocalGrid);
    }

    [Fact]
    public void Membership_dynamodb_puts_the_local_grid_on_the_tables()
    {
        var local = Bind("--membership", "dynamodb", "--dynamodb-service", "http://127.0.0.1:8000");
        Assert.Equal(new DynamoDBSettings("http://127.0.0.1:8000"), local.DynamoDB);
        Assert.Equal("OrleansSilos", local.DynamoDB!.Table);
        Assert.True(local.StartsLocalGrid);
        Assert.Equal(["--membership", "dynamodb", "--dynamodb-service", "http://127.0.0.1:8000"], local.DynamoDB.SiloArguments());
        Assert.Contains("--Membership:DynamoDB:SilosTableName=MySilos", new DynamoDBSettings("us-east-1", "MySilos").SiloArguments());
    }

    [Fact]
    public void Hang_silo_takes_a_stage_point_and_is_refused_where_it_cannot_act()
    {
        var hang = Bind("--hang-silo", "reduce:0.3", "--silos", "3");
        Assert.Equal(new SiloKillPlan(KillStage.Reduce, 0.3), hang.HangSilo);
        Assert.Null(hang.KillSilo);
        Assert.Contains("map:F or reduce:F", BindError("--hang-silo", "grain"));
        Assert.Contains("--hang-silo", BindError("--hang-silo", "map:2"));
        Assert.Contains("use one of them", BindError("--hang-silo", "map:0.3", "--kill-silo", "reduce:0.5", "--silos", "3"));
        Assert.Contains("--hang-silo", BindError("--cluster-id", "c1", "--hang-silo", "map:0.3"));
        Assert.Contains("at least 2 silos", BindError("--hang-silo", "map:0.3", "--silos", "1"));
    }

    [Fact]
    public void Impossible_combinations_are_refused_naming_the_flags()
    {
        Assert.Contains("--dynamodb-service", BindError("--membership", "dynamodb"));
        Assert.Contains("--membership dynamodb", BindError("--dynamodb-service", "us-east-1"));
        Assert.Contains("--cluster-id", BindError("--membership-dir", "/tmp/x"));
        Assert.Contains("not known", BindError("--membership", "zookeeper"));
        Assert.Contains("--grid", BindError("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--grid", "127.0.0.1:7000"));
        Assert.Contains("--dynamodb-service 'not a region'", BindError("--membership", "dynamodb", "--dynamodb-service", "not a region"));
        Assert.Contains("--dynamodb-table 'x'", BindError("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--dynamodb-table", "x"));
        Assert.Contains("--kill-silo", BindError("--cluster-id", "c1", "--kill-silo", "grain"));
        Assert.Contains("--silo-arg", BindError("--grid", "127.0.0.1:30000", "--silo-arg=--x=1"));
        Assert.Contains("--cluster-id 'a/b'", BindError("--cluster-id", "a/b"));
        Assert.Contains("--executors", BindError("--executors", "0"));
        Assert.Contains("--executors", BindError("--kill-mapper", "0.5", "--executors", "1"));
    }

    [Fact]
    public void Kill_executor_is_the_same_fault_as_kill_mapper()
    {
        Assert.Equal(0.25, Bind("--kill-executor", "0.25").KillMapper);
        Assert.Equal(Bind("--kill-mapper", "0.25").KillMapper, Bind("--kill-executor", "0.25").KillMapper);
        Assert.Null(Bind().KillMapper);
    }

    [Theory]
    [InlineData("--membership-dir", "/tmp/grid/membership")]
    [InlineData("--grid", "127.0.0.1:30000,127.0.0.1:30001")]
    [InlineData("--dynamodb-service", "http://127.0.0.1:8000")]
    public void Executors_are_told_the_grid_as_the_driver_reaches_it(string flag, string value)
    {
        var access = flag switch
        {
            "--membership-dir" => new GridAccess("job-grid-1", value, null, null),
            "--grid" => new GridAccess("job-grid-1", null, null, GridEndpoints.Parse(value)),
            _ => new GridAccess("job-grid-1", null, new DynamoDBSettings(value, "MySilos"), null),
        };
        var args = access.ToArguments();
        Assert.Contains(flag, args);
        var parsed = ExecutorCommand.Bind(ExecutorCommand.Create().Parse([.. args, "--name", "executor-1"]));
        Assert.Equal(access.ClusterId, parsed.ClusterId);
        Assert.Equal(access.MembershipDirectory, parsed.MembershipDirectory);
        Assert.Equal(access.DynamoDB, parsed.DynamoDB);
        Assert.Equal(access.Gateways, parsed.Gateways);
    }

    [Fact]
    public void The_codec_is_lz4_by_default_and_travels_to_executors()
    {
        Assert.Equal(BatchCodec.Lz4, Bind().Compression);
        Assert.Equal(RecordValues.Random, Bind().Values);
        var options = Bind("--compression", "ZSTD", "--values", "text");
        Assert.Equal((BatchCodec.Zstd, RecordValues.Text), (options.Compression, options.Values));
        Assert.Equal(BatchCodec.None, Bind("--compression", "none").Compression);
        Assert.Contains("--compression 'snappy' is not known", BindError("--compression", "snappy"));
        Assert.Contains("--values 'zeros' is not known", BindError("--values", "zeros"));

        var access = new GridAccess("job-grid-1", "/tmp/m", null, null) { Compression = BatchCodec.Zstd };
        var parsed = ExecutorCommand.Bind(ExecutorCommand.Create().Parse([.. access.ToArguments(), "--name", "executor-1"]));
        Assert.Equal(BatchCodec.Zstd, parsed.Compression);
    }

    [Fact]
    public void The_merged_push_size_is_the_clients_unless_given_and_travels_to_executors()
    {
        Assert.Null(Bind().MergedPushBytes);
        Assert.Equal(256 * 1024, Bind("--merged-push-bytes", "256KiB").MergedPushBytes);
        Assert.Contains("out of range", BindError("--merged-push-bytes", "17MiB"));
        Assert.Contains("--merged-push-bytes", BindError("--merged-push-bytes", "lots"));
        Assert.Contains("--merged-push-bytes", BindError("--shuffle", "local", "--merged-push-bytes", "256KiB"));

        var access = new GridAccess("job-grid-1", "/tmp/m", null, null) { MergedPushBytes = 512 * 1024 };
        var parsed = ExecutorCommand.Bind(ExecutorCommand.Create().Parse([.. access.ToArguments(), "--name", "executor-1"]));
        Assert.Equal(512 * 1024, parsed.MergedPushBytes);
        var byDefault = new GridAccess("job-grid-1", "/tmp/m", null, null);
        Assert.Null(ExecutorCommand.Bind(ExecutorCommand.Create().Parse([.. byDefault.ToArguments(), "--name", "executor-1"])).MergedPushBytes);
    }

    [Fact]
    public void Text_values_are_deterministic_words_after_a_random_key()
    {
        var first = new RecordGenerator(7, 3, 100, RecordValues.Text);
        var again = new RecordGenerator(7, 3, 100, RecordValues.Text);
        var random = new RecordGenerator(7, 3, 100);
        var a = new byte[100];
        var b = new byte[100];
        var c = new byte[100];
        var words = new HashSet<string>();
        for (int i = 0; i < 1000; i++)
        {
            first.NextRecord(a);
            again.NextRecord(b);
            random.NextRecord(c);
            Assert.Equal(a, b);
            string value = System.Text.Encoding.ASCII.GetString(a, RecordGenerator.KeyBytes, 100 - RecordGenerator.KeyBytes);
            Assert.Matches("^([a-z]+ )*[a-z]* ?$", value);
            foreach (var word in value.Split(' ')[..^1]) words.Add(word);
        }
        // Every one of the 64 words turns up; the random generator's values are no text at all.
        Assert.Equal(64, words.Count);
        Assert.DoesNotMatch("^[a-z ]*$", System.Text.Encoding.Latin1.GetString(c, RecordGenerator.KeyBytes, 100 - RecordGenerator.KeyBytes));
    }

    [Fact]
    public void Tasks_travel_to_executors_whole()
    {
        var map = new MapTaskSettings("app", 0, 8, 2, 1, 1000, 100, 42, 0.1 + 0.2) { Pause = new PauseSettings(500, "/tmp/resume", TimeSpan.FromSeconds(7)) };
        var reduce = new ReduceTaskSettings("app", 0, 3, [3, 11]);
        foreach (var task in new[] { new ExecutorTask("map-2-attempt-1", Map: map), new ExecutorTask("reduce-3", Reduce: reduce) })
        {
            string line = ExecutorProtocol.FormatTask(task);
            Assert.DoesNotContain('\n', line);
            var back = ExecutorProtocol.TryParseTask(line)!;
            Assert.Equal(task.Id, back.Id);
            Assert.Equal(task.Map, back.Map);
            Assert.Equal(task.Reduce?.Partitions, back.Reduce?.Partitions);
            Assert.Equal(task.Reduce?.ReducerId, back.Reduce?.ReducerId);
        }
        // The skew round-trips exactly, so the executor partitions records as the driver expects.
        Assert.Equal(0.1 + 0.2, ExecutorProtocol.TryParseTask(ExecutorProtocol.FormatTask(new ExecutorTask("m", Map: map)))!.Map!.Skew);
    }

    [Fact]
    public void Executor_lines_split_into_kind_task_and_text()
    {
        Assert.Equal((ExecutorProtocol.ProgressPrefix, "map-1", "4096"), ExecutorProtocol.Parse("PROGRESS map-1 4096"));
        Assert.Equal((ExecutorProtocol.ResultPrefix, "reduce-0", "{\"a\": 1}"), ExecutorProtocol.Parse("RESULT reduce-0 {\"a\": 1}"));
        Assert.Equal((ExecutorProtocol.Ready, "", ""), ExecutorProtocol.Parse("READY"));
        Assert.Equal(((string?)null, "", "warn: something Orleans said"), ExecutorProtocol.Parse("warn: something Orleans said"));
    }
}
