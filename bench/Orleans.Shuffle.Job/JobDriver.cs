using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Orleans.Runtime;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Job.Executors;
using Orleans.Shuffle.Job.LocalShuffle;
using Orleans.Shuffle.Job.Tasks;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Runs one job end to end: grid (started or joined), executors, application and shuffle
/// registration, the map stage, the reduce stage, verification of every partition, summary and
/// report. Maps and reduces run in executor processes, as under Spark, so pushes and fetches cross
/// process boundaries as they do under a real engine, and an executor's crash is a crash, not a
/// thrown exception in the driver. With --shuffle local there is no grid: the same executors, tasks
/// and verification over plain map output files (the baseline).
/// </summary>
internal sealed class JobDriver
{
    private static readonly TimeSpan UnregisterTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Attempts of one map at most: a rerun after its executor was killed, and the same again if the rerun's executor was too.</summary>
    private const int MaxAttempts = 4;

    private readonly JobOptions _options;
    private readonly JobConsole _console;
    private readonly JobReport _report;
    private IReadOnlyDictionary<string, double> _siloCpuAtReady = new Dictionary<string, double>();
    private readonly string _workDirectory;
    private readonly bool _ownsWorkDirectory;
    private readonly List<string> _warnings = [];
    private readonly string? _localShuffleDirectory;
    private LocalGrid? _grid;
    private ExecutorPool? _executors;
    private SiloKiller? _siloKiller;
    private int _mapAttemptsRerun;

    // The application's secret (base64) from its registration, handed to every task.
    private string? _appSecret;

    private JobDriver(JobOptions options, JobConsole console)
    {
        _options = options;
        _console = console;
        _report = JobReport.Planned(options);
        _ownsWorkDirectory = options.WorkDirectory is null;
        _workDirectory = Path.GetFullPath(options.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "orleans-shuffle-job", options.AppId));
        if (options.Shuffle == ShuffleKind.Local) _localShuffleDirectory = JobOptions.LocalShuffleDirectory(_workDirectory);
    }

    /// <summary>Runs the job and returns the process exit code (see <see cref="ExitCodes"/>).</summary>
    public static async Task<int> RunAsync(JobOptions options, CancellationToken ct)
    {
        var driver = new JobDriver(options, JobConsole.Create(options.NoProgress));
        return await driver.RunAndReportAsync(ct).ConfigureAwait(false);
    }

    private async Task<int> RunAndReportAsync(CancellationToken ct)
    {
        int exitCode;
        try
        {
            await ExecuteAsync(ct).ConfigureAwait(false);
            exitCode = _report.Verified ? ExitCodes.Verified : ExitCodes.VerificationFailed;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _report.Error = JobReport.CancelledError;
            exitCode = ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            _report.Error = Describe(e);
            exitCode = ExitCodes.JobFailed;
        }

        _report.SilosKilled = _siloKiller?.Killed.Count ?? 0;
        _report.KilledSilos = [.. _siloKiller?.Killed ?? []];
        _report.SilosHung = _siloKiller?.Hung.Count ?? 0;
        _report.HungSilos = [.. _siloKiller?.Hung ?? []];
        _report.MapAttemptsRerun = _mapAttemptsRerun;
        CleanUpWorkDirectory(exitCode == ExitCodes.Verified);
        _console.Summary(_report);
        foreach (string warning in _warnings) _console.Info($"warning: {warning}");
        foreach (var failure in _report.PartitionsFailed.Take(10))
        {
            _console.Error($"partition {failure.Partition}: {failure.Reason} (expected {failure.ExpectedRecords} records / " +
                $"{failure.ExpectedBytes} bytes / {failure.ExpectedChecksum}, got {failure.ActualRecords} / {failure.ActualBytes} / {failure.ActualChecksum})");
        }
        if (_report.PartitionsFailed.Count > 10) _console.Error($"... and {_report.PartitionsFailed.Count - 10} more failed partitions.");
        if (_report.Error is not null) _console.Error(_report.Error);

        if (_options.ReportPath is not null)
        {
            try
            {
                await _report.WriteAsync(_options.ReportPath).ConfigureAwait(false);
                _console.Info($"report written to {Path.GetFullPath(_options.ReportPath)}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _console.Error($"could not write the report to {_options.ReportPath}: {e.Message}");
                if (exitCode == ExitCodes.Verified) exitCode = ExitCodes.JobFailed;
            }
        }

        return exitCode;
    }

    private async Task ExecuteAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(_workDirectory);
        _report.WorkDirectory = _workDirectory;
        if (_localShuffleDirectory is not null)
        {
            await RunLocalShuffleAsync(_localShuffleDirectory, ct).ConfigureAwait(false);
            return;
        }
        try
        {
            await RunOnGridAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && _grid?.DescribeExitedSilos() is { Length: > 0 } exited)
        {
            // A dead silo is the likeliest cause of whatever failed; say so next to the failure.
            throw new JobFailedException($"{Describe(e)}{Environment.NewLine}Silos that exited:{Environment.NewLine}{exited}", e);
        }
        finally
        {
            if (_siloKiller?.Hung.Count > 0)
            {
                // After the job: a hung silo the grid declared Dead meanwhile stops itself once it runs again.
                _console.Info($"resuming {string.Join(", ", _siloKiller.Hung)} (SIGCONT)");
                _siloKiller.ResumeHung();
            }
            if (_grid is not null)
            {
                _console.Info("stopping the local grid");
                await _grid.DisposeAsync().ConfigureAwait(false);
                await ForgetLocalClusterAsync(_grid).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Deletes a DynamoDB local grid's rows from the membership table when the job verified (and the
    /// work directory is not kept): its cluster id was this run's own. A failed run keeps them to look at.
    /// </summary>
    private async Task ForgetLocalClusterAsync(LocalGrid grid)
    {
        if (grid.DynamoDB is null) return;
        if (!_report.Verified || _options.KeepWorkDirectory)
        {
            _console.Info($"the rows of cluster {grid.ClusterId} stay in the {grid.DynamoDB}");
            return;
        }
        try
        {
            await grid.DeleteMembershipRowsAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _warnings.Add($"could not delete the rows of cluster {grid.ClusterId} from the {grid.DynamoDB}: {e.Message}");
        }
    }

    private async Task RunOnGridAsync(CancellationToken ct)
    {
        GridAccess access;
        var gridClock = Stopwatch.StartNew();
        if (_options.StartsLocalGrid)
        {
            string membership = _options.DynamoDB is null ? "" : $" on the {_options.DynamoDB}";
            _console.Info($"starting {_options.Silos} silos{membership} (work dir {_workDirectory})");
            _grid = await LocalGrid.StartAsync(_options.Silos, _workDirectory, _options.GridReadyTimeout, _options.SiloArguments, _options.DynamoDB, _options.Tls, ct)
                .ConfigureAwait(false);
            _report.ClusterId = _grid.ClusterId;
            access = _grid.Access;
        }
        else
        {
            access = _options.JoinedGrid!;
        }
        access = access with { Compression = _options.Compression, MergedPushBytes = _options.MergedPushBytes };

        await using var connected = await access.ConnectAsync($"{_options.AppId}-driver", ct).ConfigureAwait(false);
        var client = connected.Client;
        if (_grid is not null && (_options.KillSilo is not null || _options.HangSilo is not null)) _siloKiller = new SiloKiller(_grid, client, _options.AppId, _console.Info);
        var active = await WaitForActiveSilosAsync(connected.Cluster, _grid is null ? 1 : _options.Silos, ct).ConfigureAwait(false);
        _report.Silos = active.Count;
        if (_grid is not null) _report.GridStartSeconds = Math.Round(gridClock.Elapsed.TotalSeconds, 3);
        if (_grid is not null) _siloCpuAtReady = _grid.SiloCpuSeconds();
        _console.Info($"grid ready: {access}, {active.Count} active silos ({string.Join(", ", active)})");

        string copies = $"{_options.Replicas} " + (_options.Replicas == 1 ? "copy" : "copies") + " of each";
        await RunOnExecutorsAsync(access, copies, async () =>
        {
            _appSecret = (await client.RegisterApplicationAsync(_options.AppId, ct).ConfigureAwait(false)).ToBase64();
            try
            {
                await using (client.StartHeartbeat(_options.AppId))
                {
                    // The driver registers the shuffle and fixes its shape and copies; executors only read them.
                    var spec = new ShuffleSpec(_options.Maps, _options.Partitions, _options.Replicas);
                    await client.RegisterShuffleAsync(_options.AppId, JobOptions.ShuffleId, spec, ct).ConfigureAwait(false);
                    await RunStagesAsync(client, ct).ConfigureAwait(false);
                }
            }
            finally
            {
                await UnregisterQuietlyAsync(client, cancelled: ct.IsCancellationRequested).ConfigureAwait(false);
            }
        }, ct).ConfigureAwait(false);
    }

    /// <summary>--shuffle local: no grid and no Orleans client; executors that connect nothing, and map output in plain files.</summary>
    private async Task RunLocalShuffleAsync(string shuffleDirectory, CancellationToken ct)
    {
        Directory.CreateDirectory(shuffleDirectory);
        await RunOnExecutorsAsync(null, $"local files in {shuffleDirectory}", () => RunStagesAsync(null, ct), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts the executors (of the grid <paramref name="access"/> names, or of none), runs <paramref name="job"/>
    /// on them and times it as the report's seconds; stops exactly the executors it started.
    /// </summary>
    private async Task RunOnExecutorsAsync(GridAccess? access, string where, Func<Task> job, CancellationToken ct)
    {
        var executorClock = Stopwatch.StartNew();
        _executors = await ExecutorPool.StartAsync(access, _options.Executors, _options.Concurrency, Path.Combine(_workDirectory, "logs"),
            _options.GridReadyTimeout, _console.Info, ct).ConfigureAwait(false);
        _report.ExecutorStartSeconds = Math.Round(executorClock.Elapsed.TotalSeconds, 3);
        try
        {
            _console.Info($"job {_options.AppId}: {_options.Records:N0} records of {_options.RecordSize} B ({SizeParser.Format(_options.TotalBytes)}), " +
                $"{_options.Maps} maps, {_options.Reduces} reduces, {_options.Partitions} partitions, {where}, " +
                $"on {_options.Executors} executors running {_options.Concurrency} tasks at once");
            if (_options.KillSilo is not null) _console.Info($"fault plan: kill -9 one silo at {_options.KillSilo}");
            if (_options.HangSilo is not null) _console.Info($"fault plan: SIGSTOP one silo at {_options.HangSilo}, SIGCONT after the job");
            if (_options.KillMapper is double killAt)
                _console.Info(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"fault plan: kill -9 the executor of map-{_options.KillMapperTask} after {killAt:0.###} of its bytes, then rerun its tasks elsewhere"));

            var jobClock = Stopwatch.StartNew();
            await job().ConfigureAwait(false);
            _report.Seconds = Math.Round(jobClock.Elapsed.TotalSeconds, 3);
        }
        finally
        {
            _report.ExecutorsReplaced = _executors.Replaced;
            await _executors.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The map stage, the step between the stages, the reduce stage, and verification; <paramref name="client"/> is null for the local shuffle.</summary>
    private async Task RunStagesAsync(GridClient? client, CancellationToken ct)
    {
        var mapPlan = new StagePlan("map", _options.Maps, _options.TotalBytes);
        var reducePlan = new StagePlan("reduce", _options.Reduces, _options.TotalBytes);
        MapTaskResult[] maps = [];
        ReduceTaskResult[] reduces = [];
        double mapSeconds = 0, reduceSeconds = 0;

        await _console.RunStagesAsync(mapPlan, reducePlan, async (mapProgress, reduceProgress) =>
        {
            var mapClock = Stopwatch.StartNew();
            mapProgress.Begin();
            var mapGate = SiloKillGate(KillStage.Map, "map", ct);
            maps = await RunMapStageAsync(mapProgress, mapGate, ct).ConfigureAwait(false);
            await CompleteGateAsync(mapGate, "map").ConfigureAwait(false);
            // With --drop-caches the grid's map output must be on its files before the cache is dropped, and
            // the silos write it out at the commit that follows the last map's end: so the map stage ends
            // when the commit is done (the file group answers then), as the local maps' stage ends when
            // their files are. Without it the file group is the reduce stage's first step, as before.
            ReducerFileGroup? fileGroup = client is not null && _options.DropCaches ? await GetFileGroupAsync(client, ct).ConfigureAwait(false) : null;
            mapProgress.End();
            mapSeconds = mapClock.Elapsed.TotalSeconds;
            // Recorded now so a failed reduce stage still reports how the maps did.
            _report.SetStageTimes(mapSeconds, 0);

            if (_options.DropCaches) await DropPageCacheAsync(ct).ConfigureAwait(false);
            if (_options.KillSilo?.Stage == KillStage.Grain)
                await _siloKiller!.KillAsync(grainHost: true, "after the map stage, before the reduce stage", ct).ConfigureAwait(false);

            var reduceClock = Stopwatch.StartNew();
            reduceProgress.Begin();
            LocalShuffleSettings? local = null;
            if (client is not null)
            {
                // The file group is what a reducer's engine asks for first; fetching it once here also
                // checks that the grid agrees with the maps about which attempt of each map won.
                fileGroup ??= await GetFileGroupAsync(client, ct).ConfigureAwait(false);
                CheckFileGroup(fileGroup, maps);
            }
            else
            {
                // Reducers read the winning attempt of each map, as the maps were told it; the markers must agree.
                var winners = maps.Select(m => m.WinningAttempt).ToArray();
                CheckWinningAttempts(maps.Select(m => MapOutputCommit.WinnerOf(_localShuffleDirectory!, m.MapId) ?? -1).ToArray(), "the winner marker", maps);
                local = new LocalShuffleSettings(_localShuffleDirectory!, winners);
            }
            var reduceGate = SiloKillGate(KillStage.Reduce, "reduce", ct);
            reduces = await RunReduceStageAsync(reduceProgress, ExpectedBytesOfReducers(maps), reduceGate, local, ct).ConfigureAwait(false);
            await CompleteGateAsync(reduceGate, "reduce").ConfigureAwait(false);
            reduceProgress.End();
            reduceSeconds = reduceClock.Elapsed.TotalSeconds;
        }).ConfigureAwait(false);

        _report.SetStageTimes(mapSeconds, reduceSeconds);
        if (_grid is not null) _report.SiloCpuSecondsDuringJob = Math.Round(LocalGrid.CpuSecondsBetween(_siloCpuAtReady, _grid.SiloCpuSeconds()), 3);
        Verify(maps, reduces);
    }

    private async Task<ReducerFileGroup> GetFileGroupAsync(GridClient client, CancellationToken ct)
    {
        try
        {
            return await client.GetReducerFileGroupAsync(_options.AppId, JobOptions.ShuffleId, ct).ConfigureAwait(false);
        }
        catch (GridException e) when (e.Code == GridErrorCode.DataLost)
        {
            throw ShuffleDataLostException.Create("the reducer file group", e.Message, [], e);
        }
    }

    /// <summary>--drop-caches, between the stages: the reduce stage then reads from disk, not from memory the maps just filled.</summary>
    private async Task DropPageCacheAsync(CancellationToken ct)
    {
        var (dropped, reason) = await PageCache.SyncAndDropAsync(ct).ConfigureAwait(false);
        _report.CacheDropped = dropped;
        if (dropped) _console.Info("synced and dropped the page cache before the reduce stage");
        else await Console.Error.WriteLineAsync($"warning: --drop-caches: the page cache was not dropped: {reason}").ConfigureAwait(false);
    }

    /// <summary>
    /// Runs every map task. A map whose executor the driver killed (--kill-mapper, and any other
    /// task that executor was running) is rerun as the next attempt on another executor, as an engine
    /// reruns the tasks of a lost executor; any other failure of a map fails the job, so a rerun is
    /// never hidden.
    /// </summary>
    private async Task<MapTaskResult[]> RunMapStageAsync(IStageProgress progress, StageGate? gate, CancellationToken ct)
    {
        var results = new MapTaskResult[_options.Maps];
        int killed = 0;
        await RunTasksAsync(_options.Maps, async (mapId, token) =>
        {
            long records = RecordGenerator.RecordsOfMap(_options.Records, _options.Maps, mapId);
            long mapBytes = records * _options.RecordSize;
            // A rerun generates the same records again: count them in the stage's progress only once.
            long counted = 0;
            // Bounded: only deliberately killed attempts are rerun, and the driver kills one executor.
            for (int attempt = 0; ; attempt++)
            {
                bool killThis = _options.KillMapper is not null && mapId == _options.KillMapperTask && attempt == 0;
                var pause = killThis
                    ? new PauseSettings((long)Math.Floor(mapBytes * _options.KillMapper!.Value), null, _options.MaxPause)
                    : PauseOf(gate, mapBytes);
                var settings = new MapTaskSettings(_options.AppId, JobOptions.ShuffleId, _options.Partitions, mapId, attempt,
                    records, _options.RecordSize, _options.Seed, _options.Skew)
                {
                    Pause = pause,
                    Values = _options.Values,
                    Local = _localShuffleDirectory is null ? null : new LocalShuffleSettings(_localShuffleDirectory),
                    AppSecret = _appSecret,
                };
                string name = attempt == 0 ? $"map-{mapId}" : $"map-{mapId}-attempt-{attempt}";
                bool paused = false;
                var callbacks = new TaskCallbacks(bytes =>
                {
                    lock (results)
                    {
                        if (bytes <= counted) return;
                        progress.AddBytes(bytes - counted);
                        counted = bytes;
                    }
                }, killThis
                    ? (executor, _) =>
                    {
                        Interlocked.Increment(ref killed);
                        executor.Kill();
                    }
                    : gate is null ? null : (_, _) =>
                    {
                        paused = true;
                        gate.TaskPaused();
                    });
                if (!killThis) gate?.TaskStarted();
                try
                {
                    string json = await _executors!.RunAsync(new ExecutorTask(name, Map: settings), callbacks, _options.TaskTimeout, token).ConfigureAwait(false);
                    results[mapId] = ParseResult<MapTaskResult>(json, name);
                    break;
                }
                catch (ExecutorKilledException e) when (Volatile.Read(ref killed) > 0 && attempt < MaxAttempts - 1)
                {
                    Interlocked.Increment(ref _mapAttemptsRerun);
                    _console.Info($"fault: {e.Message.Split(". Log:")[0]}; rerunning map-{mapId} as attempt {attempt + 1}");
                }
                catch (TaskFailedException e) when (e.Error?.Code == nameof(GridErrorCode.DataLost))
                {
                    throw ShuffleDataLostException.Create(name, e.Error.Message, e.Error.Partitions, e);
                }
                finally
                {
                    if (!killThis) gate?.TaskEnded(paused);
                }
            }
            progress.TaskFinished();
        }, ct).ConfigureAwait(false);
        return results;
    }

    private async Task<ReduceTaskResult[]> RunReduceStageAsync(
        IStageProgress progress, long[] expectedBytes, StageGate? gate, LocalShuffleSettings? local, CancellationToken ct)
    {
        var results = new ReduceTaskResult[_options.Reduces];
        await RunTasksAsync(_options.Reduces, async (reducerId, token) =>
        {
            var settings = new ReduceTaskSettings(_options.AppId, JobOptions.ShuffleId, reducerId, _options.PartitionsOfReducer(reducerId))
            {
                Pause = PauseOf(gate, expectedBytes[reducerId]),
                Local = local,
                AppSecret = _appSecret,
            };
            string name = $"reduce-{reducerId}";
            bool paused = false;
            long reported = 0;
            var callbacks = new TaskCallbacks(bytes =>
            {
                long delta = bytes - Interlocked.Exchange(ref reported, bytes);
                if (delta > 0) progress.AddBytes(delta);
            }, gate is null ? null : (_, _) =>
            {
                paused = true;
                gate.TaskPaused();
            });
            gate?.TaskStarted();
            try
            {
                string json = await _executors!.RunAsync(new ExecutorTask(name, Reduce: settings), callbacks, _options.TaskTimeout, token).ConfigureAwait(false);
                results[reducerId] = ParseResult<ReduceTaskResult>(json, name);
            }
            catch (TaskFailedException e) when (e.Error?.Code == nameof(GridErrorCode.DataLost))
            {
                throw ShuffleDataLostException.Create(name, e.Error.Message, e.Error.Partitions, e);
            }
            finally
            {
                gate?.TaskEnded(paused);
            }
            progress.TaskFinished();
        }, ct).ConfigureAwait(false);
        return results;
    }

    private static T ParseResult<T>(string json, string taskName) where T : class
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(json, ExecutorProtocol.Json)
                ?? throw new TaskFailedException($"{taskName} sent an empty RESULT.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new TaskFailedException($"{taskName} sent a RESULT that is not valid JSON: {e.Message}");
        }
    }

    /// <summary>The gate of --kill-silo map:F or reduce:F for this stage; null when no silo is to be killed in it.</summary>
    private StageGate? SiloKillGate(KillStage stage, string stageName, CancellationToken ct)
    {
        var plan = _options.KillSilo ?? _options.HangSilo;
        if (plan is null || plan.Stage != stage) return null;
        string resumeFile = Path.Combine(_workDirectory, $"resume-{stageName}");
        string why = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"at {plan.Fraction:0.###} of the {stageName} stage");
        return new StageGate(plan.Fraction, resumeFile, () => _options.HangSilo is not null
            ? _siloKiller!.HangAsync(why, ct)
            : _siloKiller!.KillAsync(grainHost: false, why, ct));
    }

    private PauseSettings PauseOf(StageGate? gate, long taskBytes) =>
        gate?.PausePointFor(taskBytes) is long at
            ? new PauseSettings(at, gate.ResumeFile, _options.MaxPause)
            : PauseSettings.None;

    private async Task CompleteGateAsync(StageGate? gate, string stageName)
    {
        if (gate is null) return;
        if (!await gate.CompleteAsync().ConfigureAwait(false))
            throw new JobFailedException($"--kill-silo: the {stageName} stage ended before its tasks reached the kill point; no silo was killed.");
    }

    /// <summary>Record bytes each reducer will read, from what the maps wrote to its partitions.</summary>
    private long[] ExpectedBytesOfReducers(MapTaskResult[] maps)
    {
        var bytes = new long[_options.Reduces];
        foreach (var map in maps)
        {
            foreach (var tally in map.Partitions)
            {
                if (tally.Partition >= 0 && tally.Partition < _options.Partitions) bytes[tally.Partition % _options.Reduces] += tally.Bytes;
            }
        }
        return bytes;
    }

    /// <summary>
    /// Runs tasks 0..count-1 with at most --concurrency at once. The first failure cancels the rest
    /// and is the one rethrown, not the cancellations it caused.
    /// </summary>
    private async Task RunTasksAsync(int count, Func<int, CancellationToken, ValueTask> body, CancellationToken ct)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.Concurrency, CancellationToken = ct };
        var all = Parallel.ForEachAsync(Enumerable.Range(0, count), parallel, body);
        try
        {
            await all.ConfigureAwait(false);
        }
        catch when (all.Exception is { } aggregate)
        {
            var first = aggregate.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? aggregate.InnerExceptions[0];
            ExceptionDispatchInfo.Throw(first);
        }
    }

    /// <summary>The names of the Active silos, once there are <paramref name="expected"/>; the management grain is Orleans' view of its cluster.</summary>
    private static async Task<IReadOnlyList<string>> WaitForActiveSilosAsync(IClusterClient cluster, int expected, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(60);
        var management = cluster.GetGrain<IManagementGrain>(0);
        // Bounded by the timeout.
        while (true)
        {
            var hosts = await management.GetDetailedHosts(onlyActive: true).WaitAsync(ct).ConfigureAwait(false);
            if (hosts.Length >= expected) return hosts.Select(h => $"{h.SiloName}@{h.SiloAddress}").Order(StringComparer.Ordinal).ToList();
            if (deadline.Elapsed > timeout)
                throw new JobFailedException($"The grid has {hosts.Length} active silos, not {expected}, after {timeout.TotalSeconds:0} s.");
            await Task.Delay(250, ct).ConfigureAwait(false);
        }
    }

    private void CheckFileGroup(ReducerFileGroup fileGroup, MapTaskResult[] maps)
    {
        if (fileGroup.NumMaps != _options.Maps || fileGroup.NumPartitions != _options.Partitions)
        {
            _warnings.Add($"The reducer file group has shape {fileGroup.NumMaps}x{fileGroup.NumPartitions}, " +
                $"the job {_options.Maps}x{_options.Partitions}.");
            return;
        }
        CheckWinningAttempts(fileGroup.WinningAttempts, "the file group", maps);
    }

    /// <summary>Warns where <paramref name="source"/> and the maps disagree about which attempt of a map won.</summary>
    private void CheckWinningAttempts(IReadOnlyList<int> winningAttempts, string source, MapTaskResult[] maps)
    {
        foreach (var map in maps)
        {
            if (!map.Won) _warnings.Add($"map-{map.MapId} attempt {map.AttemptId} did not win (attempt {map.WinningAttempt} did).");
            if (map.MapId < winningAttempts.Count && winningAttempts[map.MapId] != map.WinningAttempt)
                _warnings.Add($"map-{map.MapId}: {source} says attempt {winningAttempts[map.MapId]} won, the map was told {map.WinningAttempt}.");
        }
    }

    /// <summary>Compares, partition by partition, what the maps generated with what the reducers read.</summary>
    private void Verify(MapTaskResult[] maps, ReduceTaskResult[] reduces)
    {
        int partitions = _options.Partitions;
        var expected = new PartitionChecksum[partitions];
        long generated = 0;
        foreach (var map in maps)
        {
            long planned = RecordGenerator.RecordsOfMap(_options.Records, _options.Maps, map.MapId);
            if (map.Records != planned)
                throw new JobFailedException($"map-{map.MapId} generated {map.Records} records, not the {planned} it was given.");
            if (map.RecordsWritten != map.Records)
                _warnings.Add($"map-{map.MapId}: its writer counted {map.RecordsWritten} records written, the map generated {map.Records}.");
            generated += map.Records;
            foreach (var tally in map.Partitions)
            {
                if (tally.Partition < 0 || tally.Partition >= partitions)
                    throw new JobFailedException($"map-{map.MapId} reported partition {tally.Partition}, outside 0..{partitions - 1}.");
                expected[tally.Partition].Add(tally.ToChecksum());
            }
            _report.PushRequests += map.PushRequests;
            _report.BatchesPushed += map.BatchesPushed;
            _report.PayloadBytes += map.PayloadBytes;
            _report.StoredPayloadBytes += map.StoredPayloadBytes;
            _report.Revives += map.Revives;
        }

        var actual = new PartitionChecksum?[partitions];
        var failures = new List<PartitionFailure>();
        foreach (var reduce in reduces)
        {
            foreach (var tally in reduce.Partitions)
            {
                if (tally.Partition < 0 || tally.Partition >= partitions)
                    throw new JobFailedException($"reduce-{reduce.ReducerId} reported partition {tally.Partition}, outside 0..{partitions - 1}.");
                if (actual[tally.Partition] is not null)
                    throw new JobFailedException($"partition {tally.Partition} was reported by two reducers.");
                actual[tally.Partition] = tally.ToChecksum();
            }
            _report.BatchesRead += reduce.BatchesRead;
            _report.BytesFetched += reduce.BytesFetched;
            _report.DuplicateBatchesSkipped += reduce.DuplicateBatchesSkipped;
            _report.LosingAttemptBatchesSkipped += reduce.LosingAttemptBatchesSkipped;
            _report.Failovers += reduce.Failovers;
        }

        for (int p = 0; p < partitions; p++)
        {
            var want = expected[p];
            var got = actual[p] ?? default;
            string? reason = actual[p] is null ? "no reducer read it"
                : got.Records != want.Records ? "record count differs"
                : got.Bytes != want.Bytes ? "byte count differs"
                : got.Sum != want.Sum ? "checksum differs"
                : null;
            if (reason is not null)
                failures.Add(new PartitionFailure(p, reason, want.Records, got.Records, want.Bytes, got.Bytes, want.SumHex, got.SumHex));
        }

        _report.MaxPartitionRecords = expected.Length == 0 ? 0 : expected.Max(e => e.Records);
        _report.PartitionsFailed = failures;
        _report.PartitionsVerified = partitions - failures.Count;
        _report.Verified = failures.Count == 0 && generated == _options.Records;
        if (generated != _options.Records)
            _report.Error = $"The maps generated {generated} records, not the {_options.Records} planned.";
    }

    private async Task UnregisterQuietlyAsync(GridClient client, bool cancelled)
    {
        // Frees the grid's slots and files even when the job failed; a failure here must not hide the
        // job's own outcome. After Ctrl+C the user is waiting (and the silos may be stopping too), so try only briefly.
        using var timeout = new CancellationTokenSource(cancelled ? TimeSpan.FromSeconds(5) : UnregisterTimeout);
        try
        {
            await client.UnregisterApplicationAsync(_options.AppId, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _warnings.Add($"could not unregister application {_options.AppId}: {e.Message}");
        }
    }

    private void CleanUpWorkDirectory(bool verified)
    {
        // Only a directory this run made up, and only when nothing needs looking into.
        if (!_ownsWorkDirectory || !verified || _options.KeepWorkDirectory || !Directory.Exists(_workDirectory)) return;
        try
        {
            Directory.Delete(_workDirectory, recursive: true);
            _report.WorkDirectory = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _console.Info($"could not delete {_workDirectory}: {e.Message}");
        }
    }

    private static string Describe(Exception e) => e switch
    {
        JobFailedException or TaskFailedException or GridStartException or FileNotFoundException or ShuffleDataLostException => e.Message,
        GridException grid => $"grid error {grid.Code}: {grid.Message}",
        TimeoutException => $"timed out: {e.Message}",
        _ => $"{e.GetType().Name}: {e.Message}",
    };
}

/// <summary>The job could not run to verification; the message says why.</summary>
internal sealed class JobFailedException(string message, Exception? inner = null) : Exception(message, inner);
