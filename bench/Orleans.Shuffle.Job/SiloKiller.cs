using System.Diagnostics;
using System.Text.Json;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Carries out --kill-silo on the local grid: finds the silo hosting the application's ShuffleGrain
/// (the one whose HTTP /state lists the application), picks the victim, and kills its process with
/// SIGKILL. Nothing else is done after the kill: the grid has to notice the death by itself.
/// </summary>
internal sealed class SiloKiller(LocalGrid grid, string appId, Action<string> info)
{
    private static readonly TimeSpan FindHostTimeout = TimeSpan.FromSeconds(20);

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
        var (host, states) = await FindShuffleGrainSiloAsync(running, ct).ConfigureAwait(false);
        LocalSilo victim;
        if (grainHost)
        {
            victim = host;
        }
        else
        {
            victim = running.Where(s => s != host)
                .OrderByDescending(s => states.TryGetValue(s, out var state) ? state.PartitionsOf(appId) : -1)
                .FirstOrDefault()
                ?? throw new JobFailedException($"--kill-silo: no running silo other than {host.Name}, which hosts the ShuffleGrain, to kill.");
        }
        int partitions = states.TryGetValue(victim, out var victimState) ? victimState.PartitionsOf(appId) : -1;

        int pid = victim.Process.Id;
        await victim.KillAsync().ConfigureAwait(false);
        if (!victim.Process.HasExited)
            throw new JobFailedException($"--kill-silo: {victim.Name} (pid {pid}) was sent SIGKILL but has not exited after 10 s.");
        lock (_killed) _killed.Add(victim.Name);
        string role = victim == host ? "hosting the ShuffleGrain" : $"not hosting the ShuffleGrain (that is {host.Name})";
        string held = partitions < 0 ? "" : $", storing {partitions} partition copies of the job";
        info($"fault: killed {victim.Name} (pid {pid}, {role}{held}) with SIGKILL {why}");
    }

    /// <summary>Asks each running silo's /state which one hosts the application; retries briefly while the grain activates.</summary>
    private async Task<(LocalSilo Host, Dictionary<LocalSilo, SiloState> States)> FindShuffleGrainSiloAsync(
        IReadOnlyList<LocalSilo> running, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var problems = new List<string>();
        // Bounded by FindHostTimeout.
        while (true)
        {
            problems.Clear();
            var states = new Dictionary<LocalSilo, SiloState>();
            foreach (var silo in running)
            {
                try
                {
                    states[silo] = await SiloState.FetchAsync(silo, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    problems.Add($"{silo.Name}: {e.Message}");
                }
            }
            var hosts = states.Where(s => s.Value.HostsApplication(appId)).Select(s => s.Key).ToList();
            if (hosts.Count == 1) return (hosts[0], states);
            if (hosts.Count > 1)
                throw new JobFailedException($"--kill-silo: {string.Join(" and ", hosts.Select(h => h.Name))} all list application {appId} in /state; expected one ShuffleGrain.");
            if (clock.Elapsed > FindHostTimeout)
            {
                throw new JobFailedException(
                    $"--kill-silo: no silo lists application {appId} in its /state after {FindHostTimeout.TotalSeconds:0} s" +
                    (problems.Count > 0 ? $" ({string.Join("; ", problems)})." : "."));
            }
            await Task.Delay(250, ct).ConfigureAwait(false);
        }
    }
}
