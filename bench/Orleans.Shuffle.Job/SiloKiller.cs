using System.Text.Json;
using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Carries out --kill-silo and --hang-silo on the local grid: asks the application's ShuffleGrain
/// which silo it runs on, picks the victim, and kills its process with SIGKILL or stops it with
/// SIGSTOP. Nothing else is done after the fault: the grid has to notice it by itself. A hung silo
/// is let run again (SIGCONT) only after the job, by <see cref="ResumeHung"/>.
/// </summary>
internal sealed class SiloKiller(LocalGrid grid, GridClient client, string appId, Action<string> info)
{
    private readonly List<string> _killed = [];
    private readonly List<LocalSilo> _hung = [];

    /// <summary>Names of the silos stopped with SIGSTOP so far.</summary>
    public IReadOnlyList<string> Hung
    {
        get
        {
            lock (_hung) return [.. _hung.Select(s => s.Name)];
        }
    }

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
        var (victim, host, held) = await ChooseAsync(grainHost, "--kill-silo", ct).ConfigureAwait(false);
        int pid = victim.Process.Id;
        await victim.KillAsync().ConfigureAwait(false);
        if (!victim.Process.HasExited)
            throw new JobFailedException($"--kill-silo: {victim.Name} (pid {pid}) was sent SIGKILL but has not exited after 10 s.");
        lock (_killed) _killed.Add(victim.Name);
        string role = victim == host ? "hosting the ShuffleGrain" : $"not hosting the ShuffleGrain (that is {host.Name})";
        info($"fault: killed {victim.Name} (pid {pid}, {role}{held}) with SIGKILL {why}");
    }

    /// <summary>Stops the running silo other than the ShuffleGrain's that stores the most copies of the job, with SIGSTOP.</summary>
    public async Task HangAsync(string why, CancellationToken ct)
    {
        var (victim, host, held) = await ChooseAsync(grainHost: false, "--hang-silo", ct).ConfigureAwait(false);
        if (!victim.Hang()) throw new JobFailedException($"--hang-silo: SIGSTOP could not be sent to {victim.Name} (pid {victim.Process.Id}).");
        lock (_hung) _hung.Add(victim);
        info($"fault: stopped {victim.Name} (pid {victim.Process.Id}, not hosting the ShuffleGrain (that is {host.Name}){held}) with SIGSTOP {why}");
    }

    /// <summary>SIGCONT to every silo this job stopped; a silo the grid declared Dead meanwhile then stops itself.</summary>
    public void ResumeHung()
    {
        lock (_hung)
        {
            foreach (var silo in _hung) silo.Resume();
        }
    }

    private async Task<(LocalSilo Victim, LocalSilo Host, string Held)> ChooseAsync(bool grainHost, string option, CancellationToken ct)
    {
        var running = grid.Silos.Where(s => !s.Faulted && s.ExitDescription() is null && s.Ready.IsCompletedSuccessfully).ToList();
        string hostIdentity = (await client.DescribeAsync(appId, ct).ConfigureAwait(false)).SiloIdentity;
        var host = running.FirstOrDefault(s => s.Ready.Result.Identity == hostIdentity)
            ?? throw new JobFailedException($"{option}: the ShuffleGrain of {appId} runs on {hostIdentity}, which is not a running silo of the local grid.");
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
              ?? throw new JobFailedException($"{option}: no running silo other than {host.Name}, which hosts the ShuffleGrain, to kill.");
        return (victim, host, partitions[victim] < 0 ? "" : $", storing {partitions[victim]} partition copies of the job");
    }
}
