using System.Diagnostics;
using Orleans.Shuffle.Job.Tasks;

namespace Orleans.Shuffle.Job.Executors;

/// <summary>
/// The job's executors: long-lived worker processes started before the first stage, each with one
/// grid client, that run tasks the driver hands out, at most <c>concurrency</c> at once over all of
/// them, each task on the executor with the fewest running. An executor killed on purpose (a lost
/// spot instance) is replaced by a new one, and its tasks fail with <see cref="ExecutorKilledException"/>
/// so the driver reruns them elsewhere. Disposing stops exactly the processes it started.
/// </summary>
internal sealed class ExecutorPool : IAsyncDisposable
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    private readonly GridAccess? _access;
    private readonly string _logDirectory;
    private readonly TimeSpan _readyTimeout;
    private readonly Action<string> _info;
    private readonly SemaphoreSlim _slots;
    private readonly Lock _lock = new();
    private readonly List<ExecutorProcess> _executors = [];
    private readonly List<ExecutorProcess> _retired = [];
    private readonly Dictionary<ExecutorProcess, int> _assigned = [];
    private int _started;

    private ExecutorPool(GridAccess? access, int concurrency, string logDirectory, TimeSpan readyTimeout, Action<string> info)
    {
        _access = access;
        _logDirectory = logDirectory;
        _readyTimeout = readyTimeout;
        _info = info;
        _slots = new SemaphoreSlim(concurrency, concurrency);
    }

    /// <summary>Executors replaced after they were killed.</summary>
    public int Replaced { get; private set; }

    /// <summary>
    /// Starts <paramref name="count"/> executors and waits until every one's grid client is connected;
    /// with a null <paramref name="access"/> (the local shuffle) they connect nothing and are ready at once.
    /// </summary>
    public static async Task<ExecutorPool> StartAsync(
        GridAccess? access, int count, int concurrency, string logDirectory, TimeSpan readyTimeout, Action<string> info, CancellationToken ct)
    {
        var pool = new ExecutorPool(access, concurrency, logDirectory, readyTimeout, info);
        try
        {
            var started = Enumerable.Range(0, count).Select(_ => pool.StartOne()).ToList();
            await Task.WhenAll(started.Select(e => pool.WaitReadyAsync(e, ct))).ConfigureAwait(false);
            return pool;
        }
        catch
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs a task on the least busy executor once a slot is free; returns the JSON of its RESULT.</summary>
    public async Task<string> RunAsync(ExecutorTask task, TaskCallbacks callbacks, TimeSpan timeout, CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var executor = Pick();
            try
            {
                return await executor.RunAsync(task, callbacks, timeout, ct).ConfigureAwait(false);
            }
            catch (ExecutorKilledException)
            {
                await ReplaceAsync(executor, ct).ConfigureAwait(false);
                throw;
            }
            finally
            {
                lock (_lock) _assigned[executor]--;
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<ExecutorProcess> all;
        lock (_lock) all = [.. _executors, .. _retired];
        await Task.WhenAll(all.Select(e => e.StopAsync(StopGrace))).ConfigureAwait(false);
    }

    /// <summary>The executor with the fewest tasks, counted here as they are handed out: tasks picked at once spread out.</summary>
    private ExecutorProcess Pick()
    {
        lock (_lock)
        {
            var executor = _executors.Where(e => !e.Exited).MinBy(e => _assigned.GetValueOrDefault(e))
                ?? throw new TaskFailedException("No executor is running: every one has exited. See the executor logs in " + _logDirectory);
            _assigned[executor] = _assigned.GetValueOrDefault(executor) + 1;
            return executor;
        }
    }

    /// <summary>A killed executor is retired and a new one takes its place (once, whichever of its tasks notices first).</summary>
    private async Task ReplaceAsync(ExecutorProcess killed, CancellationToken ct)
    {
        ExecutorProcess replacement;
        lock (_lock)
        {
            if (!_executors.Remove(killed)) return;
            _retired.Add(killed);
            replacement = StartOne();
            Replaced++;
        }
        _info($"started {replacement.Name} in place of {killed.Name}");
        await WaitReadyAsync(replacement, ct).ConfigureAwait(false);
    }

    private ExecutorProcess StartOne()
    {
        lock (_lock)
        {
            string name = $"executor-{++_started}";
            var executor = ExecutorProcess.Start(name, _access, Path.Combine(_logDirectory, name + ".log"));
            _executors.Add(executor);
            return executor;
        }
    }

    private async Task WaitReadyAsync(ExecutorProcess executor, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await executor.Ready.WaitAsync(_readyTimeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TaskFailedException($"{executor.Name} did not connect to the grid within {_readyTimeout.TotalSeconds:0} s. Log: {executor.LogPath}");
        }
    }
}
