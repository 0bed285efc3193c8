using System.CommandLine;
using Orleans.Shuffle.Ids;

namespace Orleans.Shuffle.Job;

/// <summary>The root command, the job itself: its options, their validation, and the hand-off to <see cref="JobDriver"/>.</summary>
internal static class JobCommand
{
    public const long DefaultDataBytes = 256L << 20;
    public const int MaxConcurrencyByDefault = 8;

    private static readonly Option<int> Silos = new("--silos") { Description = "Silo processes of the local grid.", DefaultValueFactory = _ => 3 };
    private static readonly Option<int> Maps = new("--maps") { Description = "Map tasks (worker processes).", DefaultValueFactory = _ => 8 };
    private static readonly Option<int> Reduces = new("--reduces") { Description = "Reduce tasks (worker processes).", DefaultValueFactory = _ => 8 };
    private static readonly Option<int?> Partitions = new("--partitions") { Description = "Shuffle partitions [default: --reduces]; reducer r reads partitions p with p % reduces == r." };
    private static readonly Option<string?> Data = new("--data") { Description = "Data to shuffle, e.g. 1GiB, 512MiB, 100MB or bytes [default: 256MiB]." };
    private static readonly Option<long?> Records = new("--records") { Description = "Number of records (instead of --data)." };
    private static readonly Option<int> RecordSize = new("--record-size") { Description = $"Bytes per record: a {RecordGenerator.KeyBytes}-byte key plus the value.", DefaultValueFactory = _ => 100 };
    private static readonly Option<long> Seed = new("--seed") { Description = "Seed of the record generator.", DefaultValueFactory = _ => 42 };
    private static readonly Option<double> Skew = new("--skew") { Description = "Fraction of records sent to partition 0 (0 to 1).", DefaultValueFactory = _ => 0.0 };
    private static readonly Option<string?> Report = new("--report") { Description = "Write a JSON report to this file." };
    private static readonly Option<string?> Grid = new("--grid") { Description = "Use a running grid at host:port[,host:port...] instead of starting one." };
    private static readonly Option<string?> MembershipOption = new("--membership")
    {
        Description = "Membership table of the grid: file (the local grid's embedded table; workers are handed gateways) or dynamodb " +
            "(the silos use a DynamoDB table, and the driver and workers read the Active silos from it).",
    };
    private static readonly Option<string?> DynamoDBService = new("--dynamodb-service")
    {
        Description = "With --membership dynamodb: an AWS region (us-east-1) or the URL of a DynamoDB endpoint (http://localhost:8000 for DynamoDB Local).",
    };
    private static readonly Option<string?> DynamoDBTable = new("--dynamodb-table") { Description = "With --membership dynamodb: the membership table [default: OrleansShuffleSilos]." };
    private static readonly Option<string?> ClusterId = new("--cluster-id")
    {
        Description = "With --membership dynamodb: run on the running grid of this cluster id, found in the table, instead of starting a local grid.",
    };
    private static readonly Option<string?> WorkDir = new("--work-dir") { Description = "Directory for silo disks, membership file and logs [default: a new temp directory]." };
    private static readonly Option<bool> KeepWorkDir = new("--keep-work-dir") { Description = "Keep the default temp work directory even when the job succeeds." };
    private static readonly Option<string?> AppId = new("--app-id") { Description = "Application id [default: job-<random>]." };
    private static readonly Option<int?> Concurrency = new("--concurrency") { Description = $"Most worker processes at once [default: max(maps, reduces), at most {MaxConcurrencyByDefault}]." };
    private static readonly Option<bool> NoProgress = new("--no-progress") { Description = "Plain progress lines instead of progress bars." };
    private static readonly Option<int> TaskTimeout = new("--task-timeout") { Description = "Seconds a worker may run before it is killed and the job fails.", DefaultValueFactory = _ => 600 };
    private static readonly Option<int> Replicas = new("--replicas") { Description = "Copies of each partition on the grid: 2 (primary and peer replica) or 1.", DefaultValueFactory = _ => 2 };
    private static readonly Option<string?> KillSilo = new("--kill-silo")
    {
        Description = "Fault: kill -9 one silo of the local grid at map:F or reduce:F (F = fraction of the stage; a silo not hosting the " +
            "ShuffleGrain), or grain (the ShuffleGrain's silo, between the map and the reduce stage).",
    };
    private static readonly Option<double?> KillMapper = new("--kill-mapper")
    {
        Description = "Fault: kill -9 a map worker after this fraction (0 to 1) of its bytes; the driver reruns that map as attempt 1.",
    };
    private static readonly Option<int> KillMapperTask = new("--kill-mapper-task") { Description = "The map --kill-mapper kills.", DefaultValueFactory = _ => 0 };
    private static readonly Option<string[]> SiloArg = new("--silo-arg")
    {
        Description = "Argument for every silo of the local grid, repeatable, e.g. --silo-arg=--Storage:ChunkBytes=1048576.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static RootCommand Create()
    {
        var root = new RootCommand(
            "Runs a shuffle job on Orleans.Shuffle: starts a local grid (or uses --grid), runs map and reduce tasks as " +
            "worker processes, and verifies every partition's record count and checksum.")
        {
            Options =
            {
                Silos, Maps, Reduces, Partitions, Data, Records, RecordSize, Seed, Skew, Report, Grid,
                MembershipOption, DynamoDBService, DynamoDBTable, ClusterId, WorkDir,
                KeepWorkDir, AppId, Concurrency, NoProgress, TaskTimeout, Replicas, KillSilo, KillMapper, KillMapperTask, SiloArg,
            },
        };
        root.SetAction(async (parse, ct) =>
        {
            JobOptions options;
            try
            {
                options = Bind(parse);
            }
            catch (JobOptionsException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            return await JobDriver.RunAsync(options, ct).ConfigureAwait(false);
        });
        return root;
    }

    internal static JobOptions Bind(ParseResult parse)
    {
        int maps = parse.GetValue(Maps);
        int reduces = parse.GetValue(Reduces);
        int partitions = parse.GetValue(Partitions) ?? reduces;
        int recordSize = parse.GetValue(RecordSize);
        double skew = parse.GetValue(Skew);
        int silos = parse.GetValue(Silos);
        int timeoutSeconds = parse.GetValue(TaskTimeout);

        Require(silos is >= 1 and <= 64, "--silos must be 1 to 64.");
        Require(maps >= 1 && maps <= IdValidator.MaxMaps, $"--maps must be 1 to {IdValidator.MaxMaps}.");
        Require(reduces >= 1, "--reduces must be at least 1.");
        Require(partitions >= 1 && partitions <= IdValidator.MaxPartitions, $"--partitions must be 1 to {IdValidator.MaxPartitions}.");
        Require(partitions >= reduces, $"--partitions ({partitions}) must be at least --reduces ({reduces}), or some reducers would have nothing to read.");
        Require(recordSize is >= RecordGenerator.KeyBytes and <= RecordGenerator.MaxRecordSize,
            $"--record-size must be {RecordGenerator.KeyBytes} (the key) to {RecordGenerator.MaxRecordSize} bytes.");
        Require(!double.IsNaN(skew) && skew is >= 0 and <= 1, "--skew is a fraction from 0 to 1.");
        Require(timeoutSeconds >= 1, "--task-timeout must be at least 1 second.");

        long records = RecordCount(parse.GetValue(Data), parse.GetValue(Records), recordSize);
        Require(records <= long.MaxValue / recordSize, "That is more data than fits in a long.");

        int concurrency = parse.GetValue(Concurrency) ?? Math.Min(Math.Max(maps, reduces), MaxConcurrencyByDefault);
        Require(concurrency >= 1, "--concurrency must be at least 1.");

        string appId = parse.GetValue(AppId) ?? "job-" + Guid.NewGuid().ToString("N")[..12];
        Require(IdValidator.IsValidAppId(appId),
            $"--app-id '{appId}' is not valid: use 1-{IdValidator.MaxAppIdLength} characters of [A-Za-z0-9._-], starting with a letter or digit.");

        int replicas = parse.GetValue(Replicas);
        Require(replicas is 1 or 2, "--replicas must be 1 or 2.");

        SiloKillPlan? killSilo = null;
        if (parse.GetValue(KillSilo) is { } killSiloText)
        {
            try
            {
                killSilo = SiloKillPlan.Parse(killSiloText);
            }
            catch (FormatException e)
            {
                throw new JobOptionsException($"--kill-silo: {e.Message}");
            }
        }
        double? killMapper = parse.GetValue(KillMapper);
        Require(killMapper is null || (!double.IsNaN(killMapper.Value) && killMapper.Value is >= 0 and <= 1), "--kill-mapper is a fraction from 0 to 1.");
        int killMapperTask = parse.GetValue(KillMapperTask);
        Require(killMapperTask >= 0 && killMapperTask < maps, $"--kill-mapper-task must be a map id, 0 to {maps - 1}.");
        Require(killMapper is null || killSilo?.Stage != KillStage.Map,
            "--kill-mapper and --kill-silo map:F both act in the map stage; use one of them (or --kill-silo reduce:F / grain).");
        string[] siloArguments = parse.GetValue(SiloArg) ?? [];

        IReadOnlyList<string>? grid = null;
        if (parse.GetValue(Grid) is { } gridText)
        {
            try
            {
                grid = GridEndpoints.Parse(gridText);
            }
            catch (FormatException e)
            {
                throw new JobOptionsException($"--grid: {e.Message}");
            }
            Require(killSilo is null, "--kill-silo kills a silo process of the local grid the job starts; it cannot be used with --grid.");
            Require(siloArguments.Length == 0, "--silo-arg is for the silos of the local grid the job starts; it cannot be used with --grid.");
        }
        Require(killSilo is null || silos >= 2, "--kill-silo needs at least 2 silos (--silos): one must survive.");

        var (dynamoDB, clusterId) = BindMembership(parse, grid is not null);
        if (clusterId is not null)
        {
            Require(killSilo is null, "--kill-silo kills a silo process of the local grid the job starts; it cannot be used with --cluster-id.");
            Require(siloArguments.Length == 0, "--silo-arg is for the silos of the local grid the job starts; it cannot be used with --cluster-id.");
        }

        return new JobOptions
        {
            Silos = silos,
            Maps = maps,
            Reduces = reduces,
            Partitions = partitions,
            Records = records,
            RecordSize = recordSize,
            Seed = parse.GetValue(Seed),
            Skew = skew,
            ReportPath = parse.GetValue(Report),
            Grid = grid,
            DynamoDB = dynamoDB,
            ClusterId = clusterId,
            WorkDirectory = parse.GetValue(WorkDir),
            KeepWorkDirectory = parse.GetValue(KeepWorkDir),
            AppId = appId,
            Concurrency = concurrency,
            NoProgress = parse.GetValue(NoProgress),
            TaskTimeout = TimeSpan.FromSeconds(timeoutSeconds),
            Replicas = replicas,
            SiloArguments = siloArguments,
            KillSilo = killSilo,
            KillMapper = killMapper,
            KillMapperTask = killMapperTask,
        };
    }

    /// <summary>--membership, --dynamodb-service, --dynamodb-table and --cluster-id, checked together.</summary>
    private static (DynamoDBSettings? DynamoDB, string? ClusterId) BindMembership(ParseResult parse, bool hasGrid)
    {
        string membership = parse.GetValue(MembershipOption) ?? "file";
        string? service = parse.GetValue(DynamoDBService);
        string? table = parse.GetValue(DynamoDBTable);
        string? clusterId = parse.GetValue(ClusterId);
        if (membership.Equals("file", StringComparison.OrdinalIgnoreCase))
        {
            Require(service is null && table is null && clusterId is null,
                "--dynamodb-service, --dynamodb-table and --cluster-id go with --membership dynamodb.");
            return (null, null);
        }
        Require(membership.Equals("dynamodb", StringComparison.OrdinalIgnoreCase), $"--membership '{membership}' is not known: use file or dynamodb.");
        Require(!hasGrid,
            "--grid names the gateways of a running grid, which needs no membership table; with --membership dynamodb, " +
            "give --cluster-id to run on a running grid found in the table, or neither to start a local grid on DynamoDB.");
        Require(service is not null,
            "--membership dynamodb needs --dynamodb-service: an AWS region such as us-east-1, or the URL of a DynamoDB endpoint such as http://localhost:8000.");
        var settings = new DynamoDBSettings(service!, table);
        if (settings.Validate().FirstOrDefault() is { } problem) throw new JobOptionsException(problem);
        Require(clusterId is null || clusterId.Trim().Length > 0, "--cluster-id is empty.");
        return (settings, clusterId);
    }

    /// <summary>--records decides the count when given; otherwise --data (default 256 MiB) divided by the record size.</summary>
    internal static long RecordCount(string? data, long? records, int recordSize)
    {
        if (data is not null && records is not null)
            throw new JobOptionsException("Give either --data or --records, not both.");
        if (records is long count)
        {
            Require(count >= 1, "--records must be at least 1.");
            return count;
        }
        long bytes = DefaultDataBytes;
        if (data is not null && !SizeParser.TryParse(data, out bytes, out string? error))
            throw new JobOptionsException($"--data: {error}");
        long fromData = bytes / recordSize;
        Require(fromData >= 1, $"--data {data} is less than one record of {recordSize} bytes.");
        return fromData;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new JobOptionsException(message);
    }
}

/// <summary>The tool's exit codes: scripts can tell a wrong answer from a broken run.</summary>
internal static class ExitCodes
{
    public const int Verified = 0;
    public const int VerificationFailed = 1;
    public const int Usage = 2;
    public const int JobFailed = 3;
    public const int Cancelled = 130;
}
