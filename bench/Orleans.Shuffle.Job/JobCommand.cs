using System.CommandLine;
using Orleans.Shuffle.Ids;

namespace Orleans.Shuffle.Job;

/// <summary>The root command, the job itself: its options, their validation, and the hand-off to <see cref="JobDriver"/>.</summary>
internal static class JobCommand
{
    public const long DefaultDataBytes = 256L << 20;
    public const int MaxConcurrencyByDefault = 8;

    private static readonly Option<int> Silos = new("--silos") { Description = "Silo processes of the local grid.", DefaultValueFactory = _ => 3 };
    private static readonly Option<int> Maps = new("--maps") { Description = "Map tasks.", DefaultValueFactory = _ => 8 };
    private static readonly Option<int> Reduces = new("--reduces") { Description = "Reduce tasks.", DefaultValueFactory = _ => 8 };
    internal static int DefaultExecutors => Math.Max(2, Environment.ProcessorCount);

    private static readonly Option<int> Executors = new("--executors")
    {
        Description = "Executor processes: long-lived processes, started before the first stage, that run the map and reduce tasks (as Spark's) " +
            "[default: one per core of this machine, at least 2].",
        // One per core, as a Spark node runs as many executor cores as it has: every executor is an Orleans
        // client with its own connections and timers, so more processes than cores only cost CPU.
        DefaultValueFactory = _ => DefaultExecutors,
    };
    private static readonly Option<int?> Partitions = new("--partitions") { Description = "Shuffle partitions [default: --reduces]; reducer r reads partitions p with p % reduces == r." };
    private static readonly Option<string?> Data = new("--data") { Description = "Data to shuffle, e.g. 1GiB, 512MiB, 100MB or bytes [default: 256MiB]." };
    private static readonly Option<long?> Records = new("--records") { Description = "Number of records (instead of --data)." };
    private static readonly Option<int> RecordSize = new("--record-size") { Description = $"Bytes per record: a {RecordGenerator.KeyBytes}-byte key plus the value.", DefaultValueFactory = _ => 100 };
    private static readonly Option<long> Seed = new("--seed") { Description = "Seed of the record generator.", DefaultValueFactory = _ => 42 };
    private static readonly Option<double> Skew = new("--skew") { Description = "Fraction of records sent to partition 0 (0 to 1).", DefaultValueFactory = _ => 0.0 };
    private static readonly Option<string?> Report = new("--report") { Description = "Write a JSON report to this file." };
    private static readonly Option<string?> Grid = new("--grid")
    {
        Description = "Use a running grid through these Orleans gateways, host:port[,host:port...] (its silos' gateway ports), of --cluster-id [default: dev].",
    };
    private static readonly Option<string?> MembershipOption = new("--membership")
    {
        Description = "Where the grid keeps membership, grain state and reminders: file (the embedded store, a directory shared by the silos " +
            "of this machine) or dynamodb (DynamoDB tables). The driver and executors find the silos there.",
    };
    private static readonly Option<string?> MembershipDir = new("--membership-dir")
    {
        Description = "With --cluster-id and file membership: the embedded store's directory [default: the silos' default, {temp}/orleans-shuffle/{cluster id}].",
    };
    private static readonly Option<string?> DynamoDBService = new("--dynamodb-service")
    {
        Description = "With --membership dynamodb: an AWS region (us-east-1) or the URL of a DynamoDB endpoint (http://localhost:8000 for DynamoDB Local).",
    };
    private static readonly Option<string?> DynamoDBTable = new("--dynamodb-table") { Description = "With --membership dynamodb: the membership table [default: OrleansSilos]." };
    private static readonly Option<string?> ClusterId = new("--cluster-id")
    {
        Description = "Run on the running grid of this cluster id (found in the membership store) instead of starting a local grid.",
    };
    private static readonly Option<string?> WorkDir = new("--work-dir") { Description = "Directory for silo disks, membership file and logs [default: a new temp directory]." };
    private static readonly Option<bool> KeepWorkDir = new("--keep-work-dir") { Description = "Keep the default temp work directory even when the job succeeds." };
    private static readonly Option<string?> AppId = new("--app-id") { Description = "Application id [default: job-<random>]." };
    private static readonly Option<int?> Concurrency = new("--concurrency") { Description = $"Most tasks running at once over all executors [default: max(maps, reduces), at most {MaxConcurrencyByDefault}]." };
    private static readonly Option<bool> NoProgress = new("--no-progress") { Description = "Plain progress lines instead of progress bars." };
    private static readonly Option<int> TaskTimeout = new("--task-timeout") { Description = "Seconds a task may run before the job fails.", DefaultValueFactory = _ => 600 };
    private static readonly Option<int> Replicas = new("--replicas") { Description = "Copies of each partition on the grid: 2 (primary and peer replica) or 1.", DefaultValueFactory = _ => 2 };
    private static readonly Option<string?> KillSilo = new("--kill-silo")
    {
        Description = "Fault: kill -9 one silo of the local grid at map:F or reduce:F (F = fraction of the stage; a silo not hosting the " +
            "ShuffleGrain), or grain (the ShuffleGrain's silo, between the map and the reduce stage).",
    };
    private static readonly Option<string?> HangSilo = new("--hang-silo")
    {
        Description = "Fault: SIGSTOP one silo of the local grid (not the ShuffleGrain's) at map:F or reduce:F, and SIGCONT it after the job: " +
            "a hung process whose sockets still accept connections.",
    };
    // --kill-executor is the same fault under the name of what it kills (a spot executor's loss).
    private static readonly Option<double?> KillMapper = new("--kill-mapper", "--kill-executor")
    {
        Description = "Fault: kill -9 the executor running a map after this fraction (0 to 1) of the map's bytes; the driver reruns its tasks as new attempts on the other executors (alias --kill-executor).",
    };
    private static readonly Option<int> KillMapperTask = new("--kill-mapper-task") { Description = "The map --kill-mapper kills.", DefaultValueFactory = _ => 0 };
    private static readonly Option<string[]> SiloArg = new("--silo-arg")
    {
        Description = "Argument for every silo of the local grid, repeatable, e.g. --silo-arg=--Storage:ChunkBytes=1048576.",
        Arity = ArgumentArity.OneOrMore,
    };

    private static readonly Option<string> ShuffleOption = new("--shuffle")
    {
        Description = "grid: push map output to the silos of the grid (the service under test). local: no silos; each map writes one data " +
            "file and an index under the work directory and reducers read their segments from every map's file (the plain local-file baseline).",
        DefaultValueFactory = _ => "grid",
    };
    private static readonly Option<string> CompressionOption = new("--compression")
    {
        Description = "How the grid's writers store batches: lz4 (the client's default), zstd, or none. A batch that would not shrink is sent as it is.",
        DefaultValueFactory = _ => "lz4",
    };
    private static readonly Option<string?> MergedPushOption = new("--merged-push-bytes")
    {
        Description = "The grid writers' merged push: batches bound for one silo travel together up to this size (e.g. 512KiB; 1 B to 16 MiB). Default: the client's, 64 KiB.",
    };
    private static readonly Option<string> ValuesOption = new("--values")
    {
        Description = "What record values are made of: random (bytes no codec shrinks) or text (words of a 64-word vocabulary, compressible).",
        DefaultValueFactory = _ => "random",
    };
    private static readonly Option<bool> Tls = new("--tls")
    {
        Description = "The local grid's silos and every client of the job talk over TLS, with a self-signed certificate made for the job " +
            "(a local grid of DynamoDB silos always does, as DynamoDB silos require).",
    };
    private static readonly Option<string?> TlsCertificate = new("--tls-certificate")
    {
        Description = "With --grid, --membership-dir or a DynamoDB --cluster-id: the running grid's TLS certificate (.cer, .pem or .pfx), which every client pins.",
    };
    private static readonly Option<bool> DropCaches = new("--drop-caches")
    {
        Description = "Between the map and the reduce stage, run sync and write 3 to /proc/sys/vm/drop_caches (needs root), so reducers read " +
            "from disk, not the page cache. The report's cacheDropped says whether it happened.",
    };

    public static RootCommand Create()
    {
        var root = new RootCommand(
            "Runs a shuffle job on Orleans.Shuffle: starts a local grid (or joins a running one), runs map and reduce tasks in " +
            "executor processes, and verifies every partition's record count and checksum. With --shuffle local: the same job over plain " +
            "local map output files and no grid, the baseline.")
        {
            Options =
            {
                Silos, Maps, Reduces, Executors, Partitions, Data, Records, RecordSize, Seed, Skew, Report, Grid,
                MembershipOption, MembershipDir, DynamoDBService, DynamoDBTable, ClusterId, WorkDir,
                KeepWorkDir, AppId, Concurrency, NoProgress, TaskTimeout, Replicas, KillSilo, HangSilo, KillMapper, KillMapperTask, SiloArg,
                ShuffleOption, DropCaches, CompressionOption, ValuesOption, MergedPushOption, Tls, TlsCertificate,
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
        // First: with --shuffle local, a grid-only option is the mistake to name, not whatever it would have conflicted with.
        var shuffle = BindShuffle(parse);
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
        int executors = parse.GetValue(Executors);
        Require(executors is >= 1 and <= 256, "--executors must be 1 to 256.");

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
        SiloKillPlan? hangSilo = null;
        if (parse.GetValue(HangSilo) is { } hangSiloText)
        {
            try
            {
                hangSilo = SiloKillPlan.Parse(hangSiloText);
            }
            catch (FormatException e)
            {
                throw new JobOptionsException($"--hang-silo: {e.Message}");
            }
            Require(hangSilo.Stage != KillStage.Grain, "--hang-silo takes map:F or reduce:F; the ShuffleGrain's silo is not hung.");
        }
        Require(killSilo is null || hangSilo is null, "--kill-silo and --hang-silo: use one of them.");
        double? killMapper = parse.GetValue(KillMapper);
        Require(killMapper is null || (!double.IsNaN(killMapper.Value) && killMapper.Value is >= 0 and <= 1), "--kill-mapper is a fraction from 0 to 1.");
        int killMapperTask = parse.GetValue(KillMapperTask);
        Require(killMapperTask >= 0 && killMapperTask < maps, $"--kill-mapper-task must be a map id, 0 to {maps - 1}.");
        Require(killMapper is null || killSilo?.Stage != KillStage.Map,
            "--kill-mapper and --kill-silo map:F both act in the map stage; use one of them (or --kill-silo reduce:F / grain).");
        string[] siloArguments = parse.GetValue(SiloArg) ?? [];

        Require(killSilo is null || silos >= 2, "--kill-silo needs at least 2 silos (--silos): one must survive.");
        Require(hangSilo is null || silos >= 2, "--hang-silo needs at least 2 silos (--silos): one must go on.");
        Require(killMapper is null || hangSilo?.Stage != KillStage.Map, "--kill-mapper and --hang-silo map:F both act in the map stage; use one of them.");
        Require(killMapper is null || executors >= 2, "--kill-mapper kills an executor; its tasks are rerun on another, so it needs at least 2 --executors.");
        var (dynamoDB, joined) = BindMembership(parse);
        if (joined is not null)
        {
            Require(killSilo is null, "--kill-silo kills a silo process of the local grid the job starts; it cannot be used with --cluster-id or --grid.");
            Require(hangSilo is null, "--hang-silo stops a silo process of the local grid the job starts; it cannot be used with --cluster-id or --grid.");
            Require(siloArguments.Length == 0, "--silo-arg is for the silos of the local grid the job starts; it cannot be used with --cluster-id or --grid.");
            Require(!parse.GetValue(Tls), "--tls makes a certificate for the local grid the job starts; a running grid's is given with --tls-certificate.");
            if (parse.GetValue(TlsCertificate) is { } certificate)
            {
                Require(File.Exists(certificate), $"--tls-certificate {certificate} does not exist.");
                joined = joined with { TlsCertificate = Path.GetFullPath(certificate) };
            }
        }
        else
        {
            Require(parse.GetValue(TlsCertificate) is null, "--tls-certificate names a running grid's certificate; the local grid makes its own (--tls).");
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
            DynamoDB = dynamoDB,
            JoinedGrid = joined,
            WorkDirectory = parse.GetValue(WorkDir),
            KeepWorkDirectory = parse.GetValue(KeepWorkDir),
            AppId = appId,
            Concurrency = concurrency,
            Executors = executors,
            NoProgress = parse.GetValue(NoProgress),
            TaskTimeout = TimeSpan.FromSeconds(timeoutSeconds),
            // The local shuffle keeps exactly one copy of each partition: the map's own file.
            Replicas = shuffle == ShuffleKind.Local ? 1 : replicas,
            Shuffle = shuffle,
            DropCaches = parse.GetValue(DropCaches),
            Tls = parse.GetValue(Tls),
            Compression = ParseCodec(parse.GetValue(CompressionOption) ?? "lz4"),
            MergedPushBytes = ParseMergedPush(parse.GetValue(MergedPushOption)),
            Values = (parse.GetValue(ValuesOption) ?? "random").ToLowerInvariant() switch
            {
                "random" => RecordValues.Random,
                "text" => RecordValues.Text,
                var other => throw new JobOptionsException($"--values '{other}' is not known: use random or text."),
            },
            SiloArguments = siloArguments,
            KillSilo = killSilo,
            HangSilo = hangSilo,
            KillMapper = killMapper,
            KillMapperTask = killMapperTask,
        };
    }

    /// <summary>The --merged-push-bytes value in bytes, or null for the client's default.</summary>
    private static int? ParseMergedPush(string? text)
    {
        if (text is null) return null;
        if (!SizeParser.TryParse(text, out long bytes, out string? error)) throw new JobOptionsException($"--merged-push-bytes: {error}");
        if (bytes is < 1 or > Orleans.Shuffle.Wire.ProtocolConstants.MaxBatchPayloadBytes)
            throw new JobOptionsException($"--merged-push-bytes {text} is out of range: 1 B to 16 MiB.");
        return (int)bytes;
    }

    /// <summary>The --compression value as a codec; the executor command parses its own copy the same way.</summary>
    internal static Orleans.Shuffle.Batches.BatchCodec ParseCodec(string text) => text.ToLowerInvariant() switch
    {
        "none" => Orleans.Shuffle.Batches.BatchCodec.None,
        "lz4" => Orleans.Shuffle.Batches.BatchCodec.Lz4,
        "zstd" => Orleans.Shuffle.Batches.BatchCodec.Zstd,
        _ => throw new JobOptionsException($"--compression '{text}' is not known: use lz4, zstd or none."),
    };

    /// <summary>
    /// --shuffle, and with local the options that only mean something for a grid refused by name: a run
    /// that silently ignored --replicas 2 or --kill-silo would report a baseline that is not what was asked for.
    /// </summary>
    private static ShuffleKind BindShuffle(ParseResult parse)
    {
        string text = parse.GetValue(ShuffleOption) ?? "grid";
        var shuffle = text.ToLowerInvariant() switch
        {
            "grid" => ShuffleKind.Grid,
            "local" => ShuffleKind.Local,
            _ => throw new JobOptionsException($"--shuffle '{text}' is not known: use grid or local."),
        };
        if (shuffle == ShuffleKind.Local)
        {
            string[] gridOnly = [.. new Option[] { Silos, Replicas, KillSilo, HangSilo, ClusterId, Grid, MembershipOption, MembershipDir, DynamoDBService, DynamoDBTable, SiloArg, CompressionOption, MergedPushOption }
                .Where(option => parse.GetResult(option) is { Implicit: false })
                .Select(option => option.Name)];
            Require(gridOnly.Length == 0,
                $"--shuffle local starts no grid and writes map output to local files, so {string.Join(", ", gridOnly)} " +
                $"{(gridOnly.Length == 1 ? "has" : "have")} no meaning; drop {(gridOnly.Length == 1 ? "it" : "them")} or use --shuffle grid.");
        }
        return shuffle;
    }

    /// <summary>
    /// --membership, --membership-dir, --dynamodb-service, --dynamodb-table, --cluster-id and --grid,
    /// checked together: the DynamoDB tables of a local grid, or the running grid to join (null: start one).
    /// </summary>
    private static (DynamoDBSettings? DynamoDB, GridAccess? Joined) BindMembership(ParseResult parse)
    {
        string membership = parse.GetValue(MembershipOption) ?? "file";
        string? service = parse.GetValue(DynamoDBService);
        string? table = parse.GetValue(DynamoDBTable);
        string? clusterId = parse.GetValue(ClusterId);
        string? directory = parse.GetValue(MembershipDir);
        string? gridText = parse.GetValue(Grid);
        Require(clusterId is null || IdValidator.IsValidAppId(clusterId), $"--cluster-id '{clusterId}' is not valid: use 1-128 characters of [A-Za-z0-9._-].");
        if (gridText is not null)
        {
            Require(membership.Equals("file", StringComparison.OrdinalIgnoreCase) && service is null && table is null && directory is null,
                "--grid names the gateways of a running grid: it goes without --membership, --membership-dir and the DynamoDB flags.");
            IReadOnlyList<string> gateways;
            try
            {
                gateways = GridEndpoints.Parse(gridText);
            }
            catch (FormatException e)
            {
                throw new JobOptionsException($"--grid: {e.Message}");
            }
            return (null, new GridAccess(clusterId ?? "dev", null, null, gateways));
        }
        if (membership.Equals("file", StringComparison.OrdinalIgnoreCase))
        {
            Require(service is null && table is null, "--dynamodb-service and --dynamodb-table go with --membership dynamodb.");
            Require(directory is null || clusterId is not null, "--membership-dir names the store of a running grid: give its --cluster-id too.");
            return clusterId is null
                ? (null, null)
                : (null, new GridAccess(clusterId, Path.GetFullPath(directory ?? Path.Combine(Path.GetTempPath(), "orleans-shuffle", clusterId)), null, null));
        }
        Require(membership.Equals("dynamodb", StringComparison.OrdinalIgnoreCase), $"--membership '{membership}' is not known: use file or dynamodb.");
        Require(directory is null, "--membership-dir goes with file membership.");
        Require(service is not null,
            "--membership dynamodb needs --dynamodb-service: an AWS region such as us-east-1, or the URL of a DynamoDB endpoint such as http://localhost:8000.");
        var settings = new DynamoDBSettings(service!, table);
        if (settings.Validate().FirstOrDefault() is { } problem) throw new JobOptionsException(problem);
        return clusterId is null ? (settings, null) : (null, new GridAccess(clusterId, null, settings, null));
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
