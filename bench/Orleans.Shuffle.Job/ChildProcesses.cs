using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Orleans.Shuffle.Job;

/// <summary>
/// The processes this tool started (silos and executors), and nothing else: only these are ever
/// signalled or killed, always through the <see cref="Process"/> object or pid we got at start.
/// If the driver exits with some still running (an unhandled crash, a second Ctrl+C), the
/// ProcessExit hook kills them so no silo outlives its job.
/// </summary>
internal static partial class ChildProcesses
{
    private const int SigTerm = 15;

    private static readonly ConcurrentDictionary<int, Process> Running = new();

    static ChildProcesses()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    /// <summary>
    /// Starts a process and remembers it until <see cref="Forget"/>. Its stdin is closed at once, so a
    /// child that ever reads it sees end-of-file instead of waiting forever, unless
    /// <paramref name="keepStdin"/>: an executor takes its tasks there.
    /// </summary>
    public static Process Start(ProcessStartInfo startInfo, bool keepStdin = false)
    {
        var process = new Process { StartInfo = startInfo };
        if (!process.Start()) throw new InvalidOperationException($"Could not start {startInfo.FileName}.");
        Running[process.Id] = process;
        if (startInfo.RedirectStandardInput && !keepStdin) process.StandardInput.Close();
        return process;
    }

    public static void Forget(Process process)
    {
        try
        {
            Running.TryRemove(new KeyValuePair<int, Process>(process.Id, process));
        }
        catch (InvalidOperationException)
        {
            // Never started: nothing to forget.
        }
    }

    /// <summary>Kills the process and its descendants at once; a no-op if it already exited.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Exited between the check and the kill, or is not ours to kill any more.
        }
    }

    /// <summary>Asks the process to stop (SIGTERM) so it can shut down cleanly; returns false where that is not possible.</summary>
    public static bool RequestStop(Process process)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())) return false;
        try
        {
            return !process.HasExited && SendSignal(process.Id, SigTerm) == 0;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Stops gracefully within <paramref name="grace"/>, then kills.</summary>
    public static async Task StopAsync(Process process, TimeSpan grace)
    {
        if (RequestStop(process))
        {
            try
            {
                await process.WaitForExitAsync().WaitAsync(grace).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Did not stop in time: kill below.
            }
        }
        Kill(process);
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A process that survives SIGKILL for 10 s is beyond our help; do not hang the job on it.
        }
        Forget(process);
    }

    /// <summary>Sends <paramref name="signal"/> (SIGSTOP, SIGCONT) to this process only; false where signals are not possible or it has exited.</summary>
    public static bool Signal(Process process, int signal)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())) return false;
        try
        {
            return !process.HasExited && SendSignal(process.Id, signal) == 0;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public const int SigStop = 19;
    public const int SigCont = 18;

    public static void KillAll()
    {
        foreach (var process in Running.Values) Kill(process);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
