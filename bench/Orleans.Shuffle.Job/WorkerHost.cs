using System.Diagnostics;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Job;

/// <summary>Prints PROGRESS lines at most a few times a second, however often it is ticked.</summary>
internal sealed class ProgressTicker
{
    private static readonly long Interval = Stopwatch.Frequency / 5;

    private long _last = Stopwatch.GetTimestamp();

    public void Tick(long bytes)
    {
        long now = Stopwatch.GetTimestamp();
        if (now - _last < Interval) return;
        _last = now;
        WorkerProtocol.WriteProgress(bytes);
    }
}

/// <summary>
/// A fault-injection pause point of a worker (see <see cref="StageGate"/>): once the worker has
/// handled <c>atBytes</c> bytes it prints PAUSED and waits until the resume file exists (the driver
/// creates it after its fault) or the driver kills it; after <c>maxWait</c> it goes on by itself
/// so a lost driver never leaves it hanging. Without a pause point it does nothing.
/// </summary>
internal sealed class PausePoint(long? atBytes, string? resumeFile, TimeSpan maxWait)
{
    private bool _passed = atBytes is null;

    /// <summary>True the first time <paramref name="bytes"/> reaches the pause point: call <see cref="PauseAsync"/> then.</summary>
    public bool Due(long bytes) => !_passed && bytes >= atBytes!.Value;

    public async Task PauseAsync(long bytes, CancellationToken ct)
    {
        _passed = true;
        WorkerProtocol.WritePaused(bytes);
        var clock = Stopwatch.StartNew();
        // Bounded by maxWait.
        while (resumeFile is null || !File.Exists(resumeFile))
        {
            if (clock.Elapsed >= maxWait)
            {
                Console.Error.WriteLine($"paused at {bytes} bytes for {maxWait.TotalSeconds:0} s without being resumed; going on.");
                return;
            }
            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }
}

/// <summary>A grid error that happened while a worker handled some partitions; the ERROR line names them.</summary>
internal sealed class PartitionTaskException(IReadOnlyList<int> partitions, GridException inner)
    : Exception($"partition {string.Join(",", partitions)}: {inner.Message}", inner)
{
    public IReadOnlyList<int> Partitions { get; } = partitions;

    public GridException Grid { get; } = inner;
}

/// <summary>
/// Shared shell of both worker kinds: the parent watchdog, and failures as a short stderr message
/// plus exit code 1, preceded by an ERROR line when the grid said what went wrong.
/// </summary>
internal static class WorkerHost
{
    public static async Task<int> RunAsync(string name, int? parentPid, Func<Task> work)
    {
        ParentWatchdog.Start(parentPid);
        try
        {
            await work().ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"{name}: cancelled.");
            return 130;
        }
        catch (Exception e)
        {
            var grid = e as GridException ?? (e as PartitionTaskException)?.Grid;
            if (grid is not null)
                WorkerProtocol.WriteError(new WorkerError(grid.Code.ToString(), grid.Message, (e as PartitionTaskException)?.Partitions ?? []));
            // First line for the driver's summary, the whole exception for whoever opens the log.
            Console.Error.WriteLine($"{name} failed: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e);
            return 1;
        }
    }
}
