using System.CommandLine;
using Orleans.Shuffle.Job.Tasks;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Job.Executors;

/// <summary>
/// The hidden "executor" subcommand: a long-lived worker process, like a Spark executor. It connects
/// one grid client (an Orleans client and its data connections) once, then runs the map and reduce
/// tasks the driver sends on stdin, several at a time, and reports on stdout
/// (<see cref="ExecutorProtocol"/>). It stops when stdin closes: the driver is done with it, or gone.
/// With <c>--no-grid</c> (the job's --shuffle local) it connects nothing and runs local-shuffle tasks only.
/// </summary>
internal static class ExecutorCommand
{
    public const string Name = "executor";

    public const string NoGridFlag = "--no-grid";

    private static readonly Option<string?> ClusterId = new("--cluster-id");
    private static readonly Option<bool> NoGrid = new(NoGridFlag) { Description = "Connect to no grid: run the local shuffle's tasks." };
    private static readonly Option<string?> MembershipDir = new("--membership-dir") { Description = "The embedded membership table's directory." };
    private static readonly Option<string?> DynamoDBService = new("--dynamodb-service") { Description = "The DynamoDB membership table's region or URL." };
    private static readonly Option<string?> DynamoDBTable = new("--dynamodb-table");
    private static readonly Option<string?> Grid = new("--grid") { Description = "Fixed gateways host:port[,host:port...]." };
    private static readonly Option<string> ExecutorName = new("--name") { Required = true };
    private static readonly Option<string> Compression = new("--compression") { DefaultValueFactory = _ => "lz4" };
    private static readonly Option<int?> MergedPushBytes = new("--merged-push-bytes");
    private static readonly Option<string?> TlsCertificate = new("--tls-certificate") { Description = "The grid's TLS certificate, pinned." };

    public static Command Create()
    {
        var command = new Command(Name, "Executor: run the driver's map and reduce tasks.")
        {
            Hidden = true,
            Options = { ClusterId, MembershipDir, DynamoDBService, DynamoDBTable, Grid, NoGrid, ExecutorName, Compression, MergedPushBytes, TlsCertificate },
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(NoGrid) ? null : Bind(parse), parse.GetValue(ExecutorName)!, ct));
        return command;
    }

    internal static GridAccess Bind(ParseResult parse)
    {
        string clusterId = parse.GetValue(ClusterId) ?? throw new ArgumentException("--cluster-id (or --no-grid) is required.");
        var codec = JobCommand.ParseCodec(parse.GetValue(Compression) ?? "lz4");
        var access = parse.GetValue(DynamoDBService) is { } service ? new GridAccess(clusterId, null, new DynamoDBSettings(service, parse.GetValue(DynamoDBTable)), null)
            : parse.GetValue(Grid) is { } grid ? new GridAccess(clusterId, null, null, GridEndpoints.Parse(grid))
            : new GridAccess(clusterId, parse.GetValue(MembershipDir) ?? throw new ArgumentException("--membership-dir, --dynamodb-service or --grid is required."), null, null);
        return access with { Compression = codec, MergedPushBytes = parse.GetValue(MergedPushBytes), TlsCertificate = parse.GetValue(TlsCertificate) };
    }

    private static async Task<int> RunAsync(GridAccess? access, string name, CancellationToken ct)
    {
        if (access is null)
        {
            await ServeAsync(null, name, ct).ConfigureAwait(false);
            return 0;
        }
        JobGridClient connected;
        try
        {
            connected = await access.ConnectAsync(name, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"{name} could not connect to {access}: {e.GetType().Name}: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        await using (connected.ConfigureAwait(false))
        {
            await ServeAsync(connected.Client, name, ct).ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>Says READY, then runs every task the driver sends until it closes stdin; <paramref name="client"/> is null without a grid.</summary>
    private static async Task ServeAsync(Client.GridClient? client, string name, CancellationToken ct)
    {
        ExecutorProtocol.WriteReady();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var running = new List<Task>();
        using var input = new StreamReader(Console.OpenStandardInput());
        // Bounded by the driver: it sends finitely many tasks, then closes stdin.
        while (await input.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            ExecutorTask? task;
            try
            {
                task = ExecutorProtocol.TryParseTask(line);
            }
            catch (System.Text.Json.JsonException e)
            {
                await Console.Error.WriteLineAsync($"{name}: ignored a malformed task line: {e.Message}").ConfigureAwait(false);
                continue;
            }
            if (task is null) continue;
            running.RemoveAll(t => t.IsCompleted);
            running.Add(Task.Run(() => RunTaskAsync(client, task, stop.Token), CancellationToken.None));
        }
        // The driver closed stdin: it needs nothing more of this executor (and is perhaps gone).
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>The task's application secret, for this executor's grid client (a task without one is refused by the grid).</summary>
    private static void UseSecret(Client.GridClient client, string appId, string? secret)
    {
        if (secret is not null) client.UseApplicationSecret(appId, Security.ApplicationSecret.FromBase64(secret));
    }

    private static async Task RunTaskAsync(Client.GridClient? client, ExecutorTask task, CancellationToken ct)
    {
        try
        {
            if (task.Map is { Local: not null } localMap)
                ExecutorProtocol.WriteResult(task.Id, await LocalMapTask.RunAsync(localMap, new TaskReporter(task.Id, localMap.Pause), ct).ConfigureAwait(false));
            else if (task.Reduce is { Local: not null } localReduce)
                ExecutorProtocol.WriteResult(task.Id, await LocalReduceTask.RunAsync(localReduce, new TaskReporter(task.Id, localReduce.Pause), ct).ConfigureAwait(false));
            else if (client is null)
                ExecutorProtocol.WriteFailed(task.Id, $"This executor runs with {NoGridFlag}: it has no grid client for a grid task.");
            else if (task.Map is { } map)
            {
                UseSecret(client, map.AppId, map.AppSecret);
                ExecutorProtocol.WriteResult(task.Id, await MapTask.RunAsync(client, map, new TaskReporter(task.Id, map.Pause), ct).ConfigureAwait(false));
            }
            else if (task.Reduce is { } reduce)
            {
                UseSecret(client, reduce.AppId, reduce.AppSecret);
                ExecutorProtocol.WriteResult(task.Id, await ReduceTask.RunAsync(client, reduce, new TaskReporter(task.Id, reduce.Pause), ct).ConfigureAwait(false));
            }
            else
                ExecutorProtocol.WriteFailed(task.Id, "The task is neither a map nor a reduce.");
        }
        catch (Exception e)
        {
            var grid = e as GridException ?? (e as PartitionTaskException)?.Grid;
            if (grid is not null) ExecutorProtocol.WriteError(task.Id, new TaskError(grid.Code.ToString(), grid.Message, (e as PartitionTaskException)?.Partitions ?? []));
            else ExecutorProtocol.WriteFailed(task.Id, $"{e.GetType().Name}: {e.Message}");
            // The whole exception for whoever opens the executor's log.
            await Console.Error.WriteLineAsync($"{task.Id} failed: {e}").ConfigureAwait(false);
        }
    }
}
