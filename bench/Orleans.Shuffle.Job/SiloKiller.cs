using System.Text.Json;
using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Carries out --kill-silo on the local grid: asks the application's ShuffleGrain which silo it runs
/// on, picks the victim, and kills its process with SIGKILL. Nothing else is done after the kill:
/// the grid has to notice the death by itself.
/// </summary>
internal sealed class SiloKiller(LocalGrid grid, GridClient client, string appId, Action<string> info)
{
    private readonly List<string> _killed = [];

    /// <summary>Names of the silos killed so far.</summary>
    public IReadOnlyList<string> Killed
    {
        get
        {
            lock (_killed) return [.. _killed];
        }
    }

    /// <summary>
    /// Kills the silo hosting the ShuffleGrain (<paramref name="grainHost"/> true), or else the other
    /// running silo that stores the most partition copies of the application (so the kill costs data).
    /// </summary>
    public async Task KillAsync(bool grainHost, string why, CancellationToken ct)
    {
        var running = grid.Silos.Where(s => !s.Killed && s.ExitDescription() is null && s.Ready.IsCompletedSuccessfully).ToList();
        string hostIdentity = (await client.DescribeAsync(appId, ct).ConfigureAwait(false)).SiloIdentity;
        var host = running.FirstOrDefault(s => s.Ready.Result.Identity == hostIdentity)
            ?? throw new JobFailedException($"--kill-silo: the ShuffleGrain of {appId} runs on {hostIdentity}, which is not a running silo of the local grid.");
        var partitions = new Dictionary<LocalSilo, int>();
        foreach (var silo in running)
        {
            try
            {
                partitions[silo] = (await SiloState.FetchAsync(silo, ct).ConfigureAwait(false)).PartitionsOf(appId);
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                partitions[silo] = -1;
            }
        }
        var victim = grainHost
            ? host
            : running.Where(s => s != host).OrderByDescending(s => partitions[s]).FirstOrDefault()
              ?? throw new JobFailedException($"--kill-silo: no running silo other than {host.Name}, which hosts the ShuffleGrain, to kill.");

        int pid = victim.Process.Id;
        await victim.KillAsync().ConfigureAwait(false);
        if (!victim.Process.HasExited)
            throw new JobFailedException($"--kill-silo: {victim.Name} (pid {pid}) was sent SIGKILL but has not exited after 10 s.");
        lock (_killed) _killed.Add(victim.Name);
        string role = victim == host ? "hosting the ShuffleGrain" : $"not hosting the ShuffleGrain (that is {host.Name})";
        string held = partitions[victim] < 0 ? "" : $", storing {partitions[victim]} partition copies of the job";
        info($"fault: killed {victim.Name} (pid {pid}, {role}{held}) with SIGKILL {why}");
    }
}
