using System.Diagnostics;
using Orleans.Shuffle.Job.Tasks;

namespace Orleans.Shuffle.Job.Executors;

/// <summary>What the driver hears of one running task: its progress (cumulative bytes) and its pause.</summary>
internal sealed record TaskCallbacks(Action<long> OnProgressBytes, Action<ExecutorProcess, long>? OnPaused = null);

/// <summary>
/// One executor process (this same executable's hidden "executor" subcommand), as the driver sees
/// it: it sends tasks on the executor's stdin and matches the executor's stdout lines to them. When
/// the executor dies every task it was running fails: with <see cref="ExecutorKilledException"/> when
/// the driver killed it on purpose, <see cref="TaskFailedException"/> otherwise.
/// </summary>
internal sealed class ExecutorProcess
{
    private const int StderrTailLines = 15;

    private readonly Dictionary<string, (TaskCompletionSource<string> Result, TaskCallbacks Callbacks)> _tasks = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<string> _stderrTail = new();
    private readonly Lock _lock = new();
    private readonly StreamWriter _log;
    private readonly Task _pumps;
    private int _killed;

    private ExecutorProcess(string name, Process process, string logPath)
    {
        Name = name;
        Process = process;
        LogPath = logPath;
        _log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        _pumps = Task.WhenAll(PumpAsync(process.StandardOutput, OnStdout), PumpAsync(process.StandardError, OnStderr))
            .ContinueWith(_ => OnExited(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    public string Name { get; }

    public Process Process { get; }

    public string LogPath { get; }

    /// <summary>Completes when the executor's grid client is connected; fails if it exits first.</summary>
    public Task Ready => _ready.Task;

    public bool Killed => Volatile.Read(ref _killed) != 0;

    public bool Exited => _pumps.IsCompleted;

    /// <summary>Starts an executor of the grid <paramref name="access"/> names; null for one without a grid (the local shuffle).</summary>
    public static ExecutorProcess Start(string name, GridAccess? access, string logPath)
    {
        string dll = typeof(Program).Assembly.Location;
        string[] arguments = [ExecutorCommand.Name, .. access?.ToArguments() ?? [ExecutorCommand.NoGridFlag], "--name", name];
        var process = ChildProcesses.Start(DotnetHost.StartInfo(dll, arguments), keepStdin: true);
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        return new ExecutorProcess(name, process, logPath);
    }

    /// <summary>Runs one task here and returns the JSON of its RESULT.</summary>
    public async Task<string> RunAsync(ExecutorTask task, TaskCallbacks callbacks, TimeSpan timeout, CancellationToken ct)
    {
        var result = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (Exited) throw Gone(task.Id);
            _tasks.Add(task.Id, (result, callbacks));
            Log($"# sending {task.Id}");
            try
            {
                Process.StandardInput.WriteLine(ExecutorProtocol.FormatTask(task));
                Process.StandardInput.Flush();
            }
            catch (IOException)
            {
                // The executor is going; its exit fails the task below.
            }
        }
        try
        {
            return await result.Task.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TaskFailedException($"{task.Id} did not finish within {timeout.TotalSeconds:0} s (--task-timeout) on {Name}. Log: {LogPath}");
        }
        finally
        {
            lock (_lock) _tasks.Remove(task.Id);
        }
    }

    /// <summary>kill -9: the executor gets no chance to clean up, exactly like a lost spot instance.</summary>
    public void Kill()
    {
        Interlocked.Exchange(ref _killed, 1);
        ChildProcesses.Kill(Process);
    }

    /// <summary>Closes the executor's stdin (it stops when its tasks are done) and waits; kills it after the grace time.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        try
        {
            lock (_lock) Process.StandardInput.Close();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // Gone already.
        }
        try
        {
            await _pumps.WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ChildProcesses.Kill(Process);
            try { await _pumps.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); } catch (TimeoutException) { }
        }
        ChildProcesses.Forget(Process);
    }

    private void OnStdout(string line)
    {
        var (kind, taskId, rest) = ExecutorProtocol.Parse(line);
        if (kind != ExecutorProtocol.ProgressPrefix) Log(line);
        if (kind == ExecutorProtocol.Ready)
        {
            _ready.TrySetResult();
            return;
        }
        if (kind is null) return;
        (TaskCompletionSource<string> Result, TaskCallbacks Callbacks) task;
        lock (_lock)
        {
            if (!_tasks.TryGetValue(taskId, out task)) return;
        }
        switch (kind)
        {
            case ExecutorProtocol.ProgressPrefix when ExecutorProtocol.TryParseCount(rest, out long bytes):
                task.Callbacks.OnProgressBytes(bytes);
                break;
            case ExecutorProtocol.PausedPrefix when ExecutorProtocol.TryParseCount(rest, out long pausedAt):
                task.Callbacks.OnProgressBytes(pausedAt);
                task.Callbacks.OnPaused?.Invoke(this, pausedAt);
                break;
            case ExecutorProtocol.ResultPrefix:
                task.Result.TrySetResult(rest);
                break;
            case ExecutorProtocol.ErrorPrefix:
                var error = System.Text.Json.JsonSerializer.Deserialize<TaskError>(rest, ExecutorProtocol.Json);
                task.Result.TrySetException(new TaskFailedException($"{taskId} failed on {Name}: {error?.Code}: {error?.Message}. Log: {LogPath}", error));
                break;
            case ExecutorProtocol.FailedPrefix:
                task.Result.TrySetException(new TaskFailedException($"{taskId} failed on {Name}: {rest}. Log: {LogPath}"));
                break;
        }
    }

    private void OnStderr(string line)
    {
        Log("stderr: " + line);
        lock (_stderrTail)
        {
            _stderrTail.Enqueue(line);
            if (_stderrTail.Count > StderrTailLines) _stderrTail.Dequeue();
        }
    }

    private void OnExited()
    {
        string exit;
        try
        {
            Process.WaitForExit(5000);
            exit = Process.HasExited ? $"exited with code {Process.ExitCode}" : "closed its output";
        }
        catch (InvalidOperationException)
        {
            exit = "exited";
        }
        Log(Killed ? "# killed with SIGKILL by the driver (fault injection)" : $"# {exit}");
        _ready.TrySetException(new TaskFailedException($"{Name} {exit} before it was ready. Log: {LogPath}{Environment.NewLine}{Tail()}"));
        List<(string Id, TaskCompletionSource<string> Result)> orphans;
        lock (_lock) orphans = _tasks.Select(t => (t.Key, t.Value.Result)).ToList();
        foreach (var (id, result) in orphans)
        {
            result.TrySetException(Killed
                ? new ExecutorKilledException($"{id} was lost: its executor {Name} was killed with SIGKILL. Log: {LogPath}")
                : Gone(id));
        }
        lock (_lock) _log.Dispose();
    }

    private TaskFailedException Gone(string taskId) =>
        new($"{taskId} was lost: its executor {Name} exited unexpectedly. Log: {LogPath}{Environment.NewLine}{Tail()}");

    private string Tail()
    {
        lock (_stderrTail)
        {
            return _stderrTail.Count == 0
                ? "(no stderr output)"
                : "stderr tail:" + Environment.NewLine + string.Join(Environment.NewLine, _stderrTail.Select(l => "  " + l));
        }
    }

    private void Log(string line)
    {
        lock (_lock)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // After exit: late lines are not needed.
            }
        }
    }

    private static async Task PumpAsync(StreamReader reader, Action<string> onLine)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line) onLine(line);
    }
}
