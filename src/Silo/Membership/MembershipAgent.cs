using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Silo.Hosting;
using Orleans.Shuffle.Silo.Logging;
using Orleans.Shuffle.Silo.Networking;
using Orleans.Shuffle.Silo.Runtime;

namespace Orleans.Shuffle.Silo.Membership;

/// <summary>
/// Runs Orleans' membership protocol against the table for this silo:
/// join (older incarnations of this endpoint are marked Dead, then Joining, then Active),
/// IAmAlive writes, periodic table reads, suspicion votes against silos whose IAmAlive is stale and
/// death declaration once enough fresh votes agree, shutdown (ShuttingDown, then Dead), and hourly
/// cleanup of defunct rows. A silo that reads itself Dead stops. Probing peers directly is the
/// next step of the protocol (with replicas); until then staleness of IAmAlive is the signal.
/// </summary>
public sealed class MembershipAgent(
    IMembershipTable table,
    ClusterMembership membership,
    LocalSilo local,
    SiloConnectionPool dataConnections,
    IOptions<MembershipOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<MembershipAgent> logger) : IHostedLifecycleService, IAsyncDisposable
{
    private const int MaxTableAttempts = 10;
    private readonly MembershipOptions _options = options.Value;

    // Probes and gossip get connections of their own: on the shared ones they could wait behind
    // replicated data that a busy peer is not reading yet, and a busy silo would be voted dead.
    private readonly SiloConnectionPool _probeConnections = dataConnections.CreateSibling();
    private readonly Dictionary<string, int> _missedProbes = [];
    private readonly SemaphoreSlim _refreshNow = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private MembershipEntry? _self;
    private Task _loops = Task.CompletedTask;

    /// <summary>Completes when this silo is Active (or faults if it could not join).</summary>
    public Task Joined => _joined.Task;

    private readonly TaskCompletionSource _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Joins once every hosted service, Kestrel included, has started: the endpoints are bound by then.</summary>
    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await table.InitializeMembershipTable(tryInitTableVersion: true).ConfigureAwait(false);
            await JoinAsync(cancellationToken).ConfigureAwait(false);
            _joined.TrySetResult();
        }
        catch (Exception e)
        {
            _joined.TrySetException(e);
            throw;
        }
        _loops = Task.WhenAll(
            RunPeriodicAsync(_options.IAmAlivePeriod, WriteIAmAliveAsync),
            RunRefreshLoopAsync(),
            RunPeriodicAsync(_options.ProbePeriod, ProbeAsync),
            RunPeriodicAsync(_options.DefunctSiloCleanupPeriod, () => table.CleanupDefunctSiloEntries(time.GetUtcNow() - _options.DefunctSiloExpiration)));
    }

    private async Task JoinAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        _self = new MembershipEntry
        {
            SiloAddress = local.Address,
            Status = SiloStatus.Joining,
            ProxyPort = local.Address.Port,
            HttpPort = local.HttpPort,
            HostName = Environment.MachineName,
            SiloName = local.Name,
            FaultZone = local.FaultZone,
            StartTime = now,
            IAmAliveTime = now,
        };

        for (int attempt = 0; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (attempt == MaxTableAttempts) throw new InvalidOperationException("Could not join the membership table: too many conflicting writers.");
            var data = await table.ReadAll().ConfigureAwait(false);
            if (await RetireOlderIncarnationsAsync(data).ConfigureAwait(false)) continue;
            if (await table.InsertRow(_self, data.Version.Next()).ConfigureAwait(false)) break;
        }
        local.Status = SiloStatus.Joining;
        await SetStatusAsync(SiloStatus.Active).ConfigureAwait(false);
        local.Status = SiloStatus.Active;
        membership.Update(await table.ReadAll().ConfigureAwait(false));

        string grid = local.Address.Endpoint;
        string http = local.HttpPort > 0 ? $"{local.Address.Host}:{local.HttpPort}" : "off";
        SiloLog.SiloActive(logger, local.Name, local.Address.Identity, grid, http);
        // A fixed line on stdout that launchers (the job tool, tests, scripts) wait for.
        Console.Out.WriteLine($"SILO READY name={local.Name} identity={local.Address.Identity} grid={grid} http={http}");
        Console.Out.Flush();
    }

    /// <summary>
    /// Marks older generations on this endpoint Dead; a newer one means this process is stale and must not join.
    /// Returns true if it wrote, so the caller reads the table again.
    /// </summary>
    private async Task<bool> RetireOlderIncarnationsAsync(MembershipTableData data)
    {
        foreach (var row in data.Members)
        {
            var other = row.Entry.SiloAddress;
            if (!other.IsSameEndpoint(_self!.SiloAddress) || other == _self.SiloAddress || row.Entry.Status == SiloStatus.Dead) continue;
            if (other.Generation > _self.SiloAddress.Generation)
                throw new InvalidOperationException($"A newer silo {other} runs on this endpoint; this one must not join.");
            var dead = row.Entry.Copy();
            dead.Status = SiloStatus.Dead;
            await table.UpdateRow(dead, row.Etag, data.Version.Next()).ConfigureAwait(false);
            SiloLog.OldIncarnationDead(logger, other.ToString());
            return true;
        }
        return false;
    }

    /// <summary>Writes this silo's status with the row's current etag, retrying lost races.</summary>
    private async Task SetStatusAsync(SiloStatus status)
    {
        for (int attempt = 0; attempt < MaxTableAttempts; attempt++)
        {
            var data = await table.ReadAll().ConfigureAwait(false);
            var row = data.Find(_self!.SiloAddress) ?? throw new InvalidOperationException($"This silo's row {_self.SiloAddress} is missing from the membership table.");
            if (row.Entry.Status == SiloStatus.Dead && status != SiloStatus.Dead) throw new InvalidOperationException("This silo was declared dead while joining.");
            var updated = row.Entry.Copy();
            updated.Status = status;
            updated.IAmAliveTime = time.GetUtcNow();
            if (await table.UpdateRow(updated, row.Etag, data.Version.Next()).ConfigureAwait(false))
            {
                _self = updated;
                membership.Update(await table.ReadAll().ConfigureAwait(false));
                Gossip();
                return;
            }
        }
        throw new InvalidOperationException($"Could not set this silo's status to {status}: too many conflicting writers.");
    }

    private Task WriteIAmAliveAsync()
    {
        _self!.IAmAliveTime = time.GetUtcNow();
        return table.UpdateIAmAlive(_self);
    }

    /// <summary>Reads the table, stops if this silo is Dead, and votes against stale silos.</summary>
    private async Task RefreshAsync()
    {
        var data = await table.ReadAll().ConfigureAwait(false);
        membership.Update(data);
        var mine = data.Find(_self!.SiloAddress);
        if (mine is null || mine.Entry.Status == SiloStatus.Dead)
        {
            SiloLog.SelfDeclaredDead(logger, _self.SiloAddress.ToString());
            local.Status = SiloStatus.Dead;
            lifetime.StopApplication();
            return;
        }

        var now = time.GetUtcNow();
        var live = data.Members.Where(m => m.Entry.Status is SiloStatus.Active or SiloStatus.Joining or SiloStatus.ShuttingDown).ToList();
        int needed = Quorum(data, now);
        foreach (var row in live)
        {
            if (row.Entry.SiloAddress == _self.SiloAddress || now - row.Entry.IAmAliveTime <= _options.StaleAfter) continue;
            await VoteAsync(row, data.Version, needed, now).ConfigureAwait(false);
            return; // one write per round: the next round reads the table afresh
        }
    }

    /// <summary>
    /// Pings the silos this one monitors (its successors among the Active silos, by identity). A silo
    /// that misses enough probes in a row gets this silo's suspicion vote; enough votes declare it Dead.
    /// </summary>
    private async Task ProbeAsync()
    {
        var active = membership.Active.OrderBy(e => e.SiloAddress.Identity, StringComparer.Ordinal).ToList();
        int self = active.FindIndex(e => e.SiloAddress == _self!.SiloAddress);
        if (self < 0) return;
        var targets = Enumerable.Range(1, Math.Min(_options.NumProbedSilos, active.Count - 1)).Select(i => active[(self + i) % active.Count]).ToList();
        var missed = await Task.WhenAll(targets.Select(async target => (target, missed: !await PingAsync(target).ConfigureAwait(false)))).ConfigureAwait(false);

        foreach (string gone in _missedProbes.Keys.Except(targets.Select(t => t.SiloAddress.Identity)).ToList()) _missedProbes.Remove(gone);
        foreach (var (target, miss) in missed)
        {
            string id = target.SiloAddress.Identity;
            _missedProbes[id] = miss ? _missedProbes.GetValueOrDefault(id) + 1 : 0;
            if (_missedProbes[id] < _options.NumMissedProbesLimit) continue;
            _missedProbes[id] = 0;
            var data = await table.ReadAll().ConfigureAwait(false);
            if (data.Find(target.SiloAddress) is { Entry.Status: not SiloStatus.Dead } row)
                await VoteAsync(row, data.Version, Quorum(data, time.GetUtcNow()), time.GetUtcNow()).ConfigureAwait(false);
        }
    }

    private async Task<bool> PingAsync(MembershipEntry target)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_options.ProbeTimeout);
            using var reply = await _probeConnections.SendAsync(target.SiloAddress.Host, target.ProxyPort, Shuffle.Wire.MessageType.Ping, default(Shuffle.Messages.Empty), timeout.Token)
                .ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is Shuffle.Wire.GridException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Votes needed to declare a silo dead: NumVotesForDeathDeclaration, or fewer when few silos are alive (Orleans' rule).</summary>
    private int Quorum(MembershipTableData data, DateTimeOffset now)
    {
        int fresh = data.Members.Count(m => m.Entry.Status is SiloStatus.Active or SiloStatus.Joining or SiloStatus.ShuttingDown
            && now - m.Entry.IAmAliveTime <= _options.StaleAfter);
        return Math.Max(1, Math.Min(_options.NumVotesForDeathDeclaration, (fresh + 1) / 2));
    }

    private async Task VoteAsync(MembershipRow row, TableVersion version, int needed, DateTimeOffset now)
    {
        var suspect = row.Entry.Copy();
        suspect.SuspectTimes = suspect.SuspectTimes
            .Where(v => now - v.Time <= _options.DeathVoteExpirationTimeout && v.VoterIdentity != _self!.SiloAddress.Identity)
            .Append(new SuspectVote(_self!.SiloAddress.Identity, now))
            .ToList();
        bool dead = suspect.SuspectTimes.Count >= needed;
        if (dead) suspect.Status = SiloStatus.Dead;
        if (!await table.UpdateRow(suspect, row.Etag, version.Next()).ConfigureAwait(false)) return;
        membership.Update(await table.ReadAll().ConfigureAwait(false));
        Gossip();
        if (dead) SiloLog.DeclaredDead(logger, suspect.SiloAddress.ToString(), suspect.IAmAliveTime);
        else SiloLog.VotedSuspect(logger, suspect.SiloAddress.ToString(), suspect.SuspectTimes.Count, needed);
    }

    /// <summary>Asks the refresh loop to read the table now: a peer gossiped that it changed.</summary>
    public void RequestRefresh()
    {
        if (_refreshNow.CurrentCount == 0) _refreshNow.Release();
    }

    /// <summary>Reads the table every TableRefreshPeriod, or at once when gossip says it changed.</summary>
    private async Task RunRefreshLoopAsync()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                await _refreshNow.WaitAsync(_options.TableRefreshPeriod, _stopping.Token).ConfigureAwait(false);
                try
                {
                    await RefreshAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    SiloLog.TableFailure(logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Tells the other live silos that this one wrote the table, so they read it now (best effort).</summary>
    private void Gossip()
    {
        var peers = membership.Snapshot.Members.Select(m => m.Entry)
            .Where(e => e.Status is SiloStatus.Active or SiloStatus.Joining && e.SiloAddress != _self?.SiloAddress).ToList();
        foreach (var peer in peers)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    using var timeout = new CancellationTokenSource(_options.ProbeTimeout);
                    using var reply = await _probeConnections.SendAsync(peer.SiloAddress.Host, peer.ProxyPort, Shuffle.Wire.MessageType.MembershipGossip,
                        default(Shuffle.Messages.Empty), timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is Shuffle.Wire.GridException or OperationCanceledException)
                {
                    // A peer that misses gossip reads the table at its next period anyway.
                }
            });
        }
    }

    private async Task RunPeriodicAsync(TimeSpan period, Func<Task> action)
    {
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    await action().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    SiloLog.TableFailure(logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loops.ConfigureAwait(false);
        if (_self is null || local.Status == SiloStatus.Dead) return;
        try
        {
            local.Status = SiloStatus.ShuttingDown;
            await SetStatusAsync(SiloStatus.ShuttingDown).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            SiloLog.TableFailure(logger, e);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (_self is null || local.Status == SiloStatus.Dead) return;
        try
        {
            await SetStatusAsync(SiloStatus.Dead).ConfigureAwait(false);
            local.Status = SiloStatus.Dead;
        }
        catch (Exception e)
        {
            SiloLog.TableFailure(logger, e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _probeConnections.DisposeAsync().ConfigureAwait(false);
        // The container may dispose this twice (it is both a singleton and a hosted service): cancel only, never dispose the source.
        if (!_stopping.IsCancellationRequested) await _stopping.CancelAsync().ConfigureAwait(false);
    }
}
