using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Silo.Logging;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// Stops a silo whose parent (the test or local job that started it, Silo:ParentProcessId) is gone:
/// a parent killed outright cannot stop its silos, and they would linger holding ports and disks.
/// Comparing the parent's start time keeps a recycled pid from passing for it.
/// </summary>
internal sealed class ParentProcessWatchdog(SiloOptions options, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatchdog> logger) : BackgroundService
{
    private static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(1);

    /// <summary>How long a graceful stop may take before the process exits anyway.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    public const int ExitCodeParentGone = 4;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        int pid = options.ParentProcessId;
        if (pid <= 0) return;
        var started = StartTimeOf(pid);
        using var timer = new PeriodicTimer(CheckPeriod);
        // Ends when the silo stops, or once the parent is gone.
        while (started is not null && StartTimeOf(pid) == started)
        {
            try
            {
                if (!await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false)) return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        SiloLog.ParentGone(logger, pid);
        Environment.ExitCode = ExitCodeParentGone;
        lifetime.StopApplication();
        _ = Task.Delay(StopGrace, CancellationToken.None).ContinueWith(_ => Environment.Exit(ExitCodeParentGone), TaskScheduler.Default);
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
}
