using System.CommandLine;
using System.Globalization;

namespace Orleans.Shuffle.Job;

/// <summary>Everything one map task needs; the driver turns it into arguments and the worker parses it back.</summary>
internal sealed record MapTaskSettings(
    GridAccess Grid,
    string AppId,
    int ShuffleId,
    int NumMaps,
    int NumPartitions,
    int MapId,
    int AttemptId,
    long Records,
    int RecordSize,
    long Seed,
    double Skew,
    int? ParentPid)
{
    /// <summary>Copies of each partition (GridClientOptions.Replicas); must match the driver's.</summary>
    public int Replicas { get; init; } = 2;

    public WorkerPauseSettings Pause { get; init; } = WorkerPauseSettings.None;
}

/// <summary>Where a worker pauses for a fault (see <see cref="PausePoint"/>); <see cref="None"/> for never.</summary>
internal sealed record WorkerPauseSettings(long? AtBytes, string? ResumeFile, TimeSpan MaxWait)
{
    public static WorkerPauseSettings None { get; } = new(null, null, TimeSpan.FromSeconds(120));

    public PausePoint ToPausePoint() => new(AtBytes, ResumeFile, MaxWait);
}

/// <summary>Everything one reduce task needs.</summary>
internal sealed record ReduceTaskSettings(
    GridAccess Grid,
    string AppId,
    int ShuffleId,
    int ReducerId,
    IReadOnlyList<int> Partitions,
    int? ParentPid)
{
    public int Replicas { get; init; } = 2;

    public WorkerPauseSettings Pause { get; init; } = WorkerPauseSettings.None;
}

/// <summary>
/// The hidden map-task and reduce-task subcommands that worker processes run. Both directions live
/// here (settings to arguments, arguments to settings) so they cannot drift apart.
/// </summary>
internal static class WorkerCommands
{
    public const string MapTaskName = "map-task";
    public const string ReduceTaskName = "reduce-task";

    private static readonly Option<string?> Grid = new("--grid") { Description = "Gateways, host:port[,host:port...] (or --membership dynamodb)." };
    private static readonly Option<string?> Membership = new("--membership") { Description = "dynamodb: find the gateways in the membership table instead of --grid." };
    private static readonly Option<string?> DynamoDBService = new("--dynamodb-service") { Description = "With --membership dynamodb: an AWS region or a DynamoDB endpoint URL." };
    private static readonly Option<string?> DynamoDBTable = new("--dynamodb-table") { Description = "With --membership dynamodb: the membership table [default: OrleansShuffleSilos]." };
    private static readonly Option<string?> ClusterId = new("--cluster-id") { Description = "With --membership dynamodb: the grid's cluster id." };
    private static readonly Option<string> AppId = new("--app-id") { Required = true };
    private static readonly Option<int> ShuffleId = new("--shuffle-id") { DefaultValueFactory = _ => 0 };
    private static readonly Option<int?> ParentPid = new("--parent-pid") { Description = "Exit when this process is gone." };
    private static readonly Option<int> Replicas = new("--replicas") { Description = "Copies of each partition.", DefaultValueFactory = _ => 2 };
    private static readonly Option<long?> PauseAtBytes = new("--pause-at-bytes") { Description = "Fault injection: print PAUSED after this many bytes and wait for --resume-file." };
    private static readonly Option<string?> ResumeFile = new("--resume-file") { Description = "Fault injection: a paused worker goes on once this file exists." };
    private static readonly Option<int> MaxPauseSeconds = new("--max-pause-seconds") { Description = "Fault injection: a paused worker goes on by itself after this long.", DefaultValueFactory = _ => 120 };

    private static readonly Option<int> NumMaps = new("--num-maps") { Required = true };
    private static readonly Option<int> NumPartitions = new("--num-partitions") { Required = true };
    private static readonly Option<int> MapId = new("--map-id") { Required = true };
    private static readonly Option<int> AttemptId = new("--attempt-id") { DefaultValueFactory = _ => 0 };
    private static readonly Option<long> Records = new("--records") { Description = "Records this map generates.", Required = true };
    private static readonly Option<int> RecordSize = new("--record-size") { Required = true };
    private static readonly Option<long> Seed = new("--seed") { Required = true };
    private static readonly Option<double> Skew = new("--skew") { DefaultValueFactory = _ => 0.0 };

    private static readonly Option<int> ReducerId = new("--reducer-id") { Required = true };
    private static readonly Option<string> Partitions = new("--partitions") { Description = "Partition ids to read, e.g. 0,8,16.", Required = true };

    public static Command CreateMapTaskCommand()
    {
        var command = new Command(MapTaskName, "Worker: generate and push one map task's records.")
        {
            Hidden = true,
            Options =
            {
                Grid, Membership, DynamoDBService, DynamoDBTable, ClusterId, AppId, ShuffleId, ParentPid, Replicas, PauseAtBytes, ResumeFile, MaxPauseSeconds,
                NumMaps, NumPartitions, MapId, AttemptId, Records, RecordSize, Seed, Skew,
            },
        };
        command.SetAction((parse, ct) => MapTask.RunAsync(BindMapTask(parse), ct));
        return command;
    }

    public static Command CreateReduceTaskCommand()
    {
        var command = new Command(ReduceTaskName, "Worker: read and checksum some partitions.")
        {
            Hidden = true,
            Options =
            {
                Grid, Membership, DynamoDBService, DynamoDBTable, ClusterId, AppId, ShuffleId, ParentPid, Replicas, PauseAtBytes, ResumeFile, MaxPauseSeconds,
                ReducerId, Partitions,
            },
        };
        command.SetAction((parse, ct) => ReduceTask.RunAsync(BindReduceTask(parse), ct));
        return command;
    }

    public static IReadOnlyList<string> ToArguments(MapTaskSettings s)
    {
        List<string> args =
        [
            MapTaskName,
            .. GridArguments(s.Grid),
            AppId.Name, s.AppId,
            ShuffleId.Name, Invariant(s.ShuffleId),
            NumMaps.Name, Invariant(s.NumMaps),
            NumPartitions.Name, Invariant(s.NumPartitions),
            MapId.Name, Invariant(s.MapId),
            AttemptId.Name, Invariant(s.AttemptId),
            Records.Name, Invariant(s.Records),
            RecordSize.Name, Invariant(s.RecordSize),
            Seed.Name, Invariant(s.Seed),
            // "R" round-trips the exact double, so the worker applies the very same skew threshold.
            Skew.Name, s.Skew.ToString("R", CultureInfo.InvariantCulture),
            Replicas.Name, Invariant(s.Replicas),
        ];
        if (s.ParentPid is int pid) args.AddRange([ParentPid.Name, Invariant(pid)]);
        AddPause(args, s.Pause);
        return args;
    }

    public static IReadOnlyList<string> ToArguments(ReduceTaskSettings s)
    {
        List<string> args =
        [
            ReduceTaskName,
            .. GridArguments(s.Grid),
            AppId.Name, s.AppId,
            ShuffleId.Name, Invariant(s.ShuffleId),
            ReducerId.Name, Invariant(s.ReducerId),
            Partitions.Name, string.Join(',', s.Partitions.Select(Invariant)),
            Replicas.Name, Invariant(s.Replicas),
        ];
        if (s.ParentPid is int pid) args.AddRange([ParentPid.Name, Invariant(pid)]);
        AddPause(args, s.Pause);
        return args;
    }

    /// <summary>--grid with the gateways, or the membership table and cluster id to read them from.</summary>
    private static IEnumerable<string> GridArguments(GridAccess grid)
    {
        if (grid.DynamoDB is not { } dynamo) return [Grid.Name, GridEndpoints.Format(grid.Gateways)];
        var args = new List<string> { Membership.Name, "dynamodb", DynamoDBService.Name, dynamo.Service, ClusterId.Name, grid.ClusterId! };
        if (dynamo.TableName is not null) args.AddRange([DynamoDBTable.Name, dynamo.TableName]);
        return args;
    }

    private static GridAccess BindGrid(ParseResult parse)
    {
        string? membership = parse.GetValue(Membership);
        if (membership is null || membership.Equals("file", StringComparison.OrdinalIgnoreCase))
        {
            return GridAccess.ByGateways(GridEndpoints.Parse(parse.GetValue(Grid)
                ?? throw new FormatException($"A worker needs {Grid.Name} host:port[,host:port...] or {Membership.Name} dynamodb.")));
        }
        if (!membership.Equals("dynamodb", StringComparison.OrdinalIgnoreCase))
            throw new FormatException($"{Membership.Name} '{membership}' is not known: use file or dynamodb.");
        var dynamo = new DynamoDBSettings(
            parse.GetValue(DynamoDBService) ?? throw new FormatException($"{Membership.Name} dynamodb needs {DynamoDBService.Name}."),
            parse.GetValue(DynamoDBTable));
        if (dynamo.Validate().FirstOrDefault() is { } problem) throw new FormatException(problem);
        return GridAccess.ByDynamoDB(dynamo, parse.GetValue(ClusterId) ?? throw new FormatException($"{Membership.Name} dynamodb needs {ClusterId.Name}."));
    }

    private static void AddPause(List<string> args, WorkerPauseSettings pause)
    {
        if (pause.AtBytes is not long at) return;
        args.AddRange([PauseAtBytes.Name, Invariant(at), MaxPauseSeconds.Name, Invariant((int)Math.Ceiling(pause.MaxWait.TotalSeconds))]);
        if (pause.ResumeFile is not null) args.AddRange([ResumeFile.Name, pause.ResumeFile]);
    }

    internal static MapTaskSettings BindMapTask(ParseResult parse) => new(
        BindGrid(parse),
        parse.GetRequiredValue(AppId),
        parse.GetValue(ShuffleId),
        parse.GetValue(NumMaps),
        parse.GetValue(NumPartitions),
        parse.GetValue(MapId),
        parse.GetValue(AttemptId),
        parse.GetValue(Records),
        parse.GetValue(RecordSize),
        parse.GetValue(Seed),
        parse.GetValue(Skew),
        parse.GetValue(ParentPid))
    {
        Replicas = parse.GetValue(Replicas),
        Pause = BindPause(parse),
    };

    internal static ReduceTaskSettings BindReduceTask(ParseResult parse) => new(
        BindGrid(parse),
        parse.GetRequiredValue(AppId),
        parse.GetValue(ShuffleId),
        parse.GetValue(ReducerId),
        ParsePartitionList(parse.GetRequiredValue(Partitions)),
        parse.GetValue(ParentPid))
    {
        Replicas = parse.GetValue(Replicas),
        Pause = BindPause(parse),
    };

    private static WorkerPauseSettings BindPause(ParseResult parse) => new(
        parse.GetValue(PauseAtBytes), parse.GetValue(ResumeFile), TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(MaxPauseSeconds))));

    internal static IReadOnlyList<int> ParsePartitionList(string text)
    {
        var partitions = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int partition))
                throw new FormatException($"'{part}' is not a partition id.");
            partitions.Add(partition);
        }
        return partitions;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
