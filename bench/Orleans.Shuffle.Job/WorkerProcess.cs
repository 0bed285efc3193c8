using System.Diagnostics;

namespace Orleans.Shuffle.Job;

/// <summary>How to run one worker: its name (for messages and its log file) and its subcommand line.</summary>
internal sealed record WorkerLaunch(string Name, IReadOnlyList<string> Arguments, string LogPath)
{
    /// <summary>Called (on the output pump) when the worker prints PAUSED; it may kill the worker.</summary>
    public Action<RunningWorker>? OnPaused { get; init; }
}

/// <summary>A worker process while it runs, as fault injection sees it.</summary>
internal sealed class RunningWorker(string name, Process process)
{
    private int _killed;

    public string Name { get; } = name;

    /// <summary>Bytes the worker said it had handled when it paused.</summary>
    public long PausedAtBytes { get; internal set; }

    public bool Paused { get; internal set; }

    public bool Killed => Volatile.Read(ref _killed) != 0;

    /// <summary>kill -9: the worker gets no chance to clean up, exactly like a lost executor.</summary>
    public void Kill()
    {
        Interlocked.Exchange(ref _killed, 1);
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: false);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Exited meanwhile.
        }
    }
}

/// <summary>
/// Runs one worker process of this same executable to completion: forwards its PROGRESS lines,
/// captures its RESULT, logs everything else to a file, and turns a crash, a non-zero exit or a
/// timeout into a <see cref="WorkerFailedException"/> carrying the tail of its stderr.
/// </summary>
internal static class WorkerProcess
{
    private const int StderrTailLines = 15;

    /// <summary>Runs the worker and returns the JSON of its RESULT line.</summary>
    public static async Task<string> RunAsync(WorkerLaunch launch, Action<long> onProgressBytes, TimeSpan timeout, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        string dll = typeof(Program).Assembly.Location;
        var startInfo = DotnetHost.StartInfo(dll, launch.Arguments);
        Directory.CreateDirectory(Path.GetDirectoryName(launch.LogPath)!);
        await using var log = new StreamWriter(launch.LogPath, append: false) { AutoFlush = true };
        var logLock = new Lock();
        void Log(string line)
        {
            lock (logLock)
            {
                try
                {
                    log.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                    // A pump that outlived the run (pipes held open past exit): its lines are no longer wanted.
                }
            }
        }
        Log($"# {startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}");

        var stderrTail = new Queue<string>();
        string? result = null;
        WorkerError? error = null;
        long lastProgress = 0;

        using var process = ChildProcesses.Start(startInfo);
        var running = new RunningWorker(launch.Name, process);
        try
        {
            var stdout = PumpAsync(process.StandardOutput, line =>
            {
                if (WorkerProtocol.TryParseProgress(line, out long bytes))
                {
                    // PROGRESS is cumulative; the stage wants increments.
                    long delta = bytes - lastProgress;
                    lastProgress = bytes;
                    if (delta > 0) onProgressBytes(delta);
                }
                else if (WorkerProtocol.TryParsePaused(line, out long pausedAt))
                {
                    Log(line);
                    long delta = pausedAt - lastProgress;
                    lastProgress = Math.Max(lastProgress, pausedAt);
                    if (delta > 0) onProgressBytes(delta);
                    running.PausedAtBytes = pausedAt;
                    running.Paused = true;
                    launch.OnPaused?.Invoke(running);
                }
                else if (WorkerProtocol.TryParseError(line) is { } reported)
                {
                    error = reported;
                    Log(line);
                }
                else if (line.StartsWith(WorkerProtocol.ResultPrefix, StringComparison.Ordinal))
                {
                    result = line[WorkerProtocol.ResultPrefix.Length..];
                    Log(line);
                }
                else
                {
                    Log(line);
                }
            });
            var stderr = PumpAsync(process.StandardError, line =>
            {
                Log("stderr: " + line);
                lock (stderrTail)
                {
                    stderrTail.Enqueue(line);
                    if (stderrTail.Count > StderrTailLines) stderrTail.Dequeue();
                }
            });

            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                deadline.CancelAfter(timeout);
                try
                {
                    await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    ChildProcesses.Kill(process);
                    ct.ThrowIfCancellationRequested();
                    throw new WorkerFailedException(
                        $"{launch.Name} did not finish within {timeout.TotalSeconds:0} s (--task-timeout) and was killed. Log: {launch.LogPath}");
                }
            }

            // The pipes close when the process exits; bound the wait anyway in case a grandchild holds them.
            try
            {
                await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Log("# output pipes still open 10 s after exit; not waiting longer");
            }

            Log($"# exit code {process.ExitCode}");
            if (running.Killed)
            {
                Log("# killed with SIGKILL by the driver (fault injection)");
                throw new WorkerKilledException($"{launch.Name} was killed with SIGKILL after {running.PausedAtBytes} bytes. Log: {launch.LogPath}");
            }
            if (process.ExitCode != 0)
            {
                throw new WorkerFailedException(
                    $"{launch.Name} exited with code {process.ExitCode}. Log: {launch.LogPath}{Environment.NewLine}{Tail(stderrTail)}", error);
            }
            return result ?? throw new WorkerFailedException(
                $"{launch.Name} exited without a RESULT line. Log: {launch.LogPath}{Environment.NewLine}{Tail(stderrTail)}");
        }
        finally
        {
            // Reached with the process still running only on cancellation or an unexpected error.
            ChildProcesses.Kill(process);
            ChildProcesses.Forget(process);
        }
    }

    private static async Task PumpAsync(StreamReader reader, Action<string> onLine)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line) onLine(line);
    }

    private static string Tail(Queue<string> lines)
    {
        lock (lines)
        {
            return lines.Count == 0
                ? "(no stderr output)"
                : "stderr tail:" + Environment.NewLine + string.Join(Environment.NewLine, lines.Select(l => "  " + l));
        }
    }
}
