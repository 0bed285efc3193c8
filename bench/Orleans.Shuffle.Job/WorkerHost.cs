using System.Diagnostics;

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

/// <summary>Shared shell of both worker kinds: the parent watchdog, and failures as a short stderr message plus exit code 1.</summary>
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
            // First line for the driver's summary, the whole exception for whoever opens the log.
            Console.Error.WriteLine($"{name} failed: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e);
            return 1;
        }
    }
}
