using System.Diagnostics;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Ends a worker whose driver is gone. If the driver is killed outright it cannot kill its workers,
/// and a map task blocked on a dead grid would otherwise linger; polling the parent's pid bounds
/// that to a couple of seconds.
/// </summary>
internal static class ParentWatchdog
{
    public const int ExitCodeParentGone = 4;

    public static void Start(int? parentPid)
    {
        if (parentPid is not int pid || pid <= 0) return;
        DateTime? startTime = StartTimeOf(pid);
        if (startTime is null) Exit(pid);
        var thread = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(TimeSpan.FromSeconds(2));
                // Comparing start times keeps a recycled pid from passing for the driver.
                if (StartTimeOf(pid) != startTime) Exit(pid);
            }
        })
        {
            IsBackground = true,
            Name = "parent-watchdog",
        };
        thread.Start();
    }

    private static DateTime? StartTimeOf(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited ? null : process.StartTime;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static void Exit(int pid)
    {
        Console.Error.WriteLine($"The driver process {pid} is gone; stopping this worker.");
        Environment.Exit(ExitCodeParentGone);
    }
}
