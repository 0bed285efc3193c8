using System.Diagnostics;

namespace Orleans.Shuffle.Job;

/// <summary>
/// --drop-caches: between the stages, write dirty pages out and drop the page cache, so reducers read
/// the shuffle files from disk rather than from the memory the maps just wrote them to, as they would
/// on a machine where the data outgrew memory. Dropping needs root; without it the job goes on with a
/// warm cache and says so.
/// </summary>
internal static class PageCache
{
    public const string DropCachesPath = "/proc/sys/vm/drop_caches";
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(300);

    /// <summary>Runs sync, then writes 3 (page cache, dentries and inodes) to <see cref="DropCachesPath"/>; the reason when it could not.</summary>
    public static async Task<(bool Dropped, string? Reason)> SyncAndDropAsync(CancellationToken ct)
    {
        if (!OperatingSystem.IsLinux()) return (false, $"{DropCachesPath} is Linux only");
        // sync first: drop_caches frees only clean pages, so unwritten map output would stay in memory.
        string? syncProblem = await SyncAsync(ct).ConfigureAwait(false);
        if (syncProblem is not null) return (false, syncProblem);
        if (!Environment.IsPrivilegedProcess) return (false, $"not root, so {DropCachesPath} cannot be written; the reduce stage reads a warm cache");
        try
        {
            await File.WriteAllTextAsync(DropCachesPath, "3", ct).ConfigureAwait(false);
            return (true, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // E.g. a container whose /proc/sys is read-only.
            return (false, $"could not write 3 to {DropCachesPath}: {e.Message}");
        }
    }

    private static async Task<string?> SyncAsync(CancellationToken ct)
    {
        Process process;
        try
        {
            process = ChildProcesses.Start(new ProcessStartInfo("sync") { UseShellExecute = false });
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return $"could not run sync: {e.Message}";
        }
        try
        {
            await process.WaitForExitAsync(ct).WaitAsync(SyncTimeout, ct).ConfigureAwait(false);
            return process.ExitCode == 0 ? null : $"sync exited with code {process.ExitCode}";
        }
        catch (TimeoutException)
        {
            ChildProcesses.Kill(process);
            return $"sync did not finish within {SyncTimeout.TotalSeconds:0} s";
        }
        finally
        {
            ChildProcesses.Forget(process);
            process.Dispose();
        }
    }
}
