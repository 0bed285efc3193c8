using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Grains.Security;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>
/// The lifecycle manager of one application (see <see cref="IShuffleGrain"/>). Orleans runs its
/// requests one at a time, so its state changes in whole steps; only waits for a commit and
/// descriptions interleave. The state is written through grain storage (<see cref="StorageName"/>)
/// on every change, so when its silo dies Orleans activates it elsewhere with everything it knew,
/// and it finishes a commit the dead activation left. An Orleans reminder (<see cref="ExpiryReminder"/>)
/// deletes the application when its driver has been silent for the TTL, whether or not the grain
/// is active then. Every call proves the application's secret, or the cluster secret (see
/// <see cref="Invoke"/>).
/// </summary>
internal sealed class ShuffleGrain : Grain, IShuffleGrain, IRemindable, IIncomingGrainCallFilter
{
    /// <summary>The grain storage the ShuffleGrain's state goes to; the silo registers it.</summary>
    public const string StorageName = "shuffle-state";

    public const string ExpiryReminder = "application-expiry";

    private readonly IPersistentState<ShuffleGrainState> _state;
    private readonly ApplicationOptions _options;
    private readonly TimeProvider _time;
    private readonly IClusterMembershipService _membership;
    private readonly IStorageSiloServiceClient _storageSilos;
    private readonly SlotReportCache _slotReports;
    private readonly ClusterKey _clusterKey;
    private readonly string _siloIdentity;
    private readonly ILogger _logger;
    private readonly Dictionary<int, TaskCompletionSource> _commitWaiters = [];
    private PartitionCopies _copies = null!;
    private string _appId = "";
    private DateTimeOffset _lastSeen;
    private bool _deactivating;

    public ShuffleGrain(
        [PersistentState("shuffle", StorageName)] IPersistentState<ShuffleGrainState> state,
        IOptions<ApplicationOptions> options,
        [FromKeyedServices(GridClock.ServiceKey)] TimeProvider time,
        IClusterMembershipService membership,
        IStorageSiloServiceClient storageSilos,
        SlotReportCache slotReports,
        ClusterKey clusterKey,
        ILocalSiloDetails silo,
        ILogger<ShuffleGrain> logger)
    {
        _storageSilos = storageSilos;
        _slotReports = slotReports;
        _clusterKey = clusterKey;
        _siloIdentity = silo.SiloAddress.ToParsableString();
        _state = state;
        _options = options.Value;
        _time = time;
        _membership = membership;
        _logger = logger;
    }

    private ShuffleGrainState State => _state.State;

    private bool IsRegistered => _state.RecordExists;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _appId = this.GetPrimaryKeyString();
        IdValidator.ValidateAppId(_appId);
        _copies = new PartitionCopies(GrainFactory, _membership, _clusterKey, _appId, _options.MaxPartitionCallsInFlight);
        if (IsRegistered && State.Secret is { } secret) _copies.ApplicationKey = GridAuthentication.DataPlaneKey(secret);
        // A commit the previous activation did not finish (its silo died): commit is idempotent.
        foreach (var record in State.Shuffles.Values.Where(r => r.CommitPending)) SelfCommit(record.ShuffleId);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Who may call: RegisterApplication proves itself (its secret must be the one registered, if
    /// any); the reminder's tick (from Orleans' reminder service) only expires an application silent
    /// for its TTL, and CommitShuffle (the grain's own call to itself) only commits a shuffle whose maps
    /// have all ended, which the grain does anyway: both do what their caller cannot steer, and a token
    /// dated when a commit was queued could expire while the grain is busy. Every other call carries
    /// the application's control token, or a member token (a silo). Refusals are Unauthorized, logged,
    /// and change nothing.
    /// </summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        var method = context.InterfaceMethod;
        string? why =
            method.DeclaringType == typeof(IRemindable) || method.Name is nameof(RegisterApplication) or nameof(CommitShuffle) ? null
            : CheckCaller();
        if (why is not null)
        {
            GrainLog.CallRefused(_logger, method.Name, $"application {_appId}", why);
            throw new GridException(GridErrorCode.Unauthorized, $"{method.Name} of application {_appId} refused: {why}.");
        }
        ClusterKey.ClearTokens();
        await context.Invoke().ConfigureAwait(true);
    }

    // A silo may make any call; a client proves the application's secret. An application not
    // registered has no secret: its calls go on and get UnknownApplication (or do nothing).
    private string? CheckCaller()
    {
        if (!_clusterKey.RequireAuthentication || _clusterKey.CheckMember() is null) return null;
        if (!IsRegistered) return null;
        return State.Secret is { } secret
            ? _clusterKey.CheckApplication(secret, _appId)
            : "the application was registered without a secret (by an older grid); register it again";
    }

    public async Task RegisterApplication(ApplicationSecret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (IsRegistered)
        {
            // A repeat whose answer was lost carries the same secret; anyone else is refused.
            if (State.Secret is { } known && known.Matches(secret))
            {
                Touch();
                return;
            }
            GrainLog.CallRefused(_logger, nameof(RegisterApplication), $"application {_appId}", "registered already, with another secret");
            throw new GridException(GridErrorCode.Unauthorized,
                $"Application {_appId} is registered already, by another driver (another secret): choose another application id.");
        }
        Touch();
        State.Secret = secret;
        _copies.ApplicationKey = GridAuthentication.DataPlaneKey(secret);
        // The reminder first: an application must never be stored without the reminder that expires it
        // (a reminder without an application removes itself at its first tick).
        await this.RegisterOrUpdateReminder(ExpiryReminder, _options.ExpiryCheckPeriod, _options.ExpiryCheckPeriod).ConfigureAwait(true);
        State.LastHeartbeat = _time.GetUtcNow();
        await WriteStateAsync().ConfigureAwait(true);
        GrainLog.ApplicationRegistered(_logger, _appId);
    }

    public async Task Heartbeat()
    {
        RequireRegistered();
        Touch();
        // Written at most every quarter TTL: enough for expiry to survive this grain's silo, cheap enough for storage.
        if (_lastSeen - State.LastHeartbeat > _options.HeartbeatTtl / 4)
        {
            State.LastHeartbeat = _lastSeen;
            await WriteStateAsync().ConfigureAwait(true);
        }
    }

    public Task UnregisterApplication() => UnregisterApplicationAsync("unregistered by the driver");

    public async Task<ShuffleLocations> RegisterShuffle(int shuffleId, ShuffleSpec spec)
    {
        RequireRegistered();
        Touch();
        IdValidator.ValidateShuffleId(shuffleId);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (State.Shuffles.TryGetValue(shuffleId, out var existing))
        {
            if (existing.Spec != spec)
                throw new GridException(GridErrorCode.ShuffleMismatch, $"Shuffle {_appId}/{shuffleId} is registered as {existing.Spec}, not {spec}.");
            return existing.CurrentLocations();
        }

        var record = new ShuffleRecord { ShuffleId = shuffleId, Spec = spec, WinningAttempts = Enumerable.Repeat(-1, spec.NumMaps).ToArray() };
        bool replicate = Replicate(spec);
        await CheckSlotQuotaAsync(shuffleId, spec, spec.NumPartitions * (replicate ? 2 : 1)).ConfigureAwait(true);
        var placed = await Task.WhenAll(Enumerable.Range(0, spec.NumPartitions).Select(async p =>
        {
            try
            {
                return (Location: await _copies.PlaceAsync(shuffleId, p, 0, replicate, [], record.Abandoned).ConfigureAwait(true), Error: (Exception?)null);
            }
            catch (GridException e)
            {
                return (Location: default(PartitionLocation), Error: e);
            }
        })).ConfigureAwait(true);
        if (placed.FirstOrDefault(p => p.Error is not null).Error is { } failure)
        {
            // Nothing of this shuffle is recorded yet: free what the other partitions reserved, and what
            // failed tries may have left (the silos of abandoned epochs are not known: every silo is asked).
            await Task.WhenAll(placed.Where(p => p.Error is null).Select(p => _copies.DestroyAsync(shuffleId, p.Location))).ConfigureAwait(true);
            if (record.Abandoned.Count > 0) await SweepSilosAsync(shuffleId).ConfigureAwait(true);
            throw new GridException(((GridException)failure).Code,
                $"Shuffle {_appId}/{shuffleId} ({spec}) could not be placed: {failure.Message}", failure);
        }
        record.Locations = [.. placed.Select(p => p.Location)];
        State.Shuffles[shuffleId] = record;
        await WriteStateAsync().ConfigureAwait(true);
        GrainLog.ShuffleRegistered(_logger, _appId, shuffleId, spec.ToString(), record.Silos().Count());
        return record.CurrentLocations();
    }

    public Task<ShuffleLocations> GetShuffleLocations(int shuffleId)
    {
        RequireRegistered();
        Touch();
        return Task.FromResult(Get(shuffleId).CurrentLocations());
    }

    public async Task<IReadOnlyList<PartitionLocation>> Revive(int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos)
    {
        RequireRegistered();
        Touch();
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(excludedSilos);
        var record = Get(shuffleId);
        if (record.AllMapsEnded)
            throw new GridException(GridErrorCode.MapEnded, $"Shuffle {_appId}/{shuffleId} has ended: every map ended, nothing more is pushed.");
        if (excludedSilos.Count > 10_000) throw new GridException(GridErrorCode.InvalidArgument, "A revive excludes at most 10000 silos.");
        var failedEpoch = new Dictionary<int, int>();
        foreach (var p in partitions)
        {
            if (p.PartitionId < 0 || p.PartitionId >= record.Spec.NumPartitions || p.Epoch < 0)
                throw new GridException(GridErrorCode.InvalidId, $"Partition {p} does not exist in {_appId}/{shuffleId} ({record.Spec.NumPartitions} partitions).");
            failedEpoch[p.PartitionId] = Math.Max(failedEpoch.GetValueOrDefault(p.PartitionId), p.Epoch);
        }

        // Only partitions whose current epoch is the failed one (or older) move; the others moved already.
        var toPlace = failedEpoch.Keys.Where(p => record.Current(p).Epoch <= failedEpoch[p]).ToList();
        if (toPlace.Count > 0)
        {
            bool replicate = Replicate(record.Spec);
            var abandoned = new List<PartitionRef>();
            var placed = await Task.WhenAll(toPlace.Select(async p =>
            {
                try
                {
                    return (Location: await PlaceRevivedAsync(shuffleId, p, record.NextEpoch(p), replicate, excludedSilos, abandoned).ConfigureAwait(true),
                        Error: (GridException?)null);
                }
                catch (GridException e)
                {
                    return (Location: default(PartitionLocation), Error: e);
                }
            })).ConfigureAwait(true);
            // What was placed is recorded even if another partition failed: its epoch is taken, its copies hold slots.
            record.Locations.AddRange(placed.Where(p => p.Error is null).Select(p => p.Location));
            record.Abandoned.AddRange(abandoned);
            await WriteStateAsync().ConfigureAwait(true);
            GrainLog.Revived(_logger, _appId, shuffleId, placed.Count(p => p.Error is null), string.Join(",", excludedSilos));
            if (placed.FirstOrDefault(p => p.Error is not null).Error is { } failure) throw failure;
        }
        return failedEpoch.Keys.Select(record.Current).ToList();
    }

    /// <summary>
    /// Places a revived epoch away from the silos the writer excludes; when that leaves no room, again
    /// without them. A writer's exclusions are what it saw fail (a timeout can also come from a healthy
    /// silo slowed by a hung peer), while the membership decides which silos are gone: Dead ones are
    /// never chosen either way.
    /// </summary>
    private async Task<PartitionLocation> PlaceRevivedAsync(
        int shuffleId, int partitionId, int firstEpoch, bool replicate, IReadOnlyList<string> excludedSilos, List<PartitionRef> abandoned)
    {
        try
        {
            return await _copies.PlaceAsync(shuffleId, partitionId, firstEpoch, replicate, excludedSilos, abandoned).ConfigureAwait(true);
        }
        catch (GridException e) when (e.Code == GridErrorCode.NoSlots && excludedSilos.Count > 0)
        {
            int next = abandoned.Where(a => a.PartitionId == partitionId).Select(a => a.Epoch + 1).DefaultIfEmpty(firstEpoch).Max();
            GrainLog.ExclusionsIgnored(_logger, _appId, shuffleId, partitionId, string.Join(",", excludedSilos));
            return await _copies.PlaceAsync(shuffleId, partitionId, next, replicate, [], abandoned).ConfigureAwait(true);
        }
    }

    public async Task<MapperEndReply> MapperEnd(int shuffleId, int mapId, int attemptId)
    {
        RequireRegistered();
        Touch();
        IdValidator.ValidateMapAttempt(mapId, attemptId);
        var record = Get(shuffleId);
        if (mapId >= record.Spec.NumMaps)
            throw new GridException(GridErrorCode.InvalidId, $"Map {mapId} does not exist in {_appId}/{shuffleId} ({record.Spec.NumMaps} maps).");

        int winner = record.WinningAttempts[mapId];
        if (winner < 0)
        {
            record.WinningAttempts[mapId] = winner = attemptId;
            record.EndedMaps++;
            await WriteStateAsync().ConfigureAwait(true);
            if (record.AllMapsEnded) SelfCommit(shuffleId);
        }
        return new MapperEndReply(winner == attemptId, winner, record.AllMapsEnded);
    }

    public async Task<ReducerFileGroup> GetReducerFileGroup(int shuffleId, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        RequireRegistered();
        Touch();
        var wait = maxWait < TimeSpan.Zero ? TimeSpan.Zero : maxWait > _options.MaxCommitWait ? _options.MaxCommitWait : maxWait;
        var deadline = _time.GetUtcNow() + wait;
        // Bounded: each round waits for a commit outcome or the rest of the wait.
        while (true)
        {
            RequireRegistered();
            var record = Get(shuffleId);
            if (record.Committed is { } committed) return LiveCopiesFirst(committed);
            if (record.CommitError is { } error) throw new GridException(GridErrorCode.DataLost, error);
            var remaining = deadline - _time.GetUtcNow();
            // A deactivating activation answers at once, so the caller asks the next one instead of waiting here.
            if (remaining <= TimeSpan.Zero || _deactivating)
            {
                throw new GridException(GridErrorCode.NotCommitted,
                    $"Shuffle {_appId}/{shuffleId} is not committed: {record.EndedMaps} of {record.Spec.NumMaps} maps have ended" +
                    (record.AllMapsEnded ? ", and its commit is running." : "."));
            }
            if (!_commitWaiters.TryGetValue(shuffleId, out var outcome))
                _commitWaiters[shuffleId] = outcome = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            try
            {
                await outcome.Task.WaitAsync(remaining, _time, cancellationToken).ConfigureAwait(true);
            }
            catch (TimeoutException)
            {
                // Checked again at the top: the message says how far the maps are.
            }
        }
    }

    public async Task CommitShuffle(int shuffleId)
    {
        try
        {
            await CommitAsync(shuffleId).ConfigureAwait(true);
        }
        finally
        {
            // Waiters look at the outcome themselves: none yet (the write failed) sends them to ask again.
            Release(shuffleId);
        }
    }

    private async Task CommitAsync(int shuffleId)
    {
        if (!IsRegistered || !State.Shuffles.TryGetValue(shuffleId, out var record) || !record.CommitPending) return;
        long started = _time.GetTimestamp();
        var copies = record.Locations.SelectMany(l => l.Copies.Select((silo, copy) => (Location: l, Copy: copy, Silo: silo))).ToList();
        var results = await Task.WhenAll(copies.Select(c =>
            _copies.CommitAsync(new PartitionKey(_appId, shuffleId, c.Location.PartitionId, c.Location.Epoch), c.Copy, c.Silo))).ConfigureAwait(true);

        // Only read-only requests interleave with this one, so the shuffle is still registered; checked
        // anyway, because a commit that wrote a shuffle's outcome after it was unregistered would resurrect it.
        if (!State.Shuffles.TryGetValue(shuffleId, out var current) || !ReferenceEquals(current, record)) return;

        var committed = new List<CommittedLocation>(record.Locations.Count);
        var lost = new List<string>();
        foreach (var group in copies.Zip(results).GroupBy(r => (r.First.Location.PartitionId, r.First.Location.Epoch)).OrderBy(g => g.Key))
        {
            var location = group.First().First.Location;
            var ok = group.Where(r => r.Second.File is not null).Select(r => new CommittedCopy(r.First.Silo, r.Second.File!)).ToList();
            if (ok.Count > 0)
            {
                committed.Add(new CommittedLocation(location, ok));
                continue;
            }
            string why = string.Join("; ", group.Select(r => $"{r.First.Silo.Name}: {r.Second.Error}"));
            lost.Add($"{location.PartitionId}-{location.Epoch} ({why})");
        }

        if (lost.Count > 0)
        {
            string names = string.Join(", ", lost);
            GrainLog.CommitLostData(_logger, _appId, shuffleId, names);
            record.CommitError = $"Shuffle data lost for {_appId}/{shuffleId}: no copy of partitions {names} committed. Rerun the map stage.";
        }
        else
        {
            record.Committed = new ReducerFileGroup(record.Spec.NumMaps, record.Spec.NumPartitions, (int[])record.WinningAttempts.Clone(), committed);
            GrainLog.ShuffleCommitted(_logger, _appId, shuffleId, committed.Sum(c => c.Copies[0].File.Bytes),
                committed.Sum(c => (long)c.Copies[0].File.BatchCount), committed.Count, (long)_time.GetElapsedTime(started).TotalMilliseconds);
        }
        await WriteStateAsync().ConfigureAwait(true);
    }

    public async Task UnregisterShuffle(int shuffleId)
    {
        Touch();
        if (!IsRegistered || !State.Shuffles.Remove(shuffleId, out var record)) return;
        await WriteStateAsync().ConfigureAwait(true);
        Release(shuffleId);
        await DestroyAsync(record).ConfigureAwait(true);
        if (record.Abandoned.Count > 0) await SweepSilosAsync(shuffleId).ConfigureAwait(true);
        GrainLog.ShuffleUnregistered(_logger, _appId, shuffleId);
    }

    public Task<ApplicationSummary> Describe()
    {
        RequireRegistered();
        var shuffles = State.Shuffles.Values.OrderBy(s => s.ShuffleId).Select(s => new ShuffleSummary(
            s.ShuffleId, s.Spec, s.EndedMaps, s.StateName, s.Locations.Count - s.Spec.NumPartitions,
            s.Silos().Select(silo => silo.Name).Order(StringComparer.Ordinal).ToList())).ToList();
        return Task.FromResult(new ApplicationSummary(_appId, _siloIdentity, LastHeartbeat, shuffles));
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ExpiryReminder) return;
        if (!IsRegistered)
        {
            // An application deleted without its reminder (a silo died in between), or a registration whose
            // state write failed: whatever is left of it on the silos goes, then the reminder.
            await SweepSilosAsync(null).ConfigureAwait(true);
            await UnregisterReminderAsync().ConfigureAwait(true);
            Deactivate();
            return;
        }
        var silent = _time.GetUtcNow() - LastHeartbeat;
        if (silent <= _options.HeartbeatTtl) return;
        GrainLog.ApplicationExpired(_logger, _appId, (long)silent.TotalSeconds);
        await UnregisterApplicationAsync("heartbeat lapsed").ConfigureAwait(true);
    }

    /// <summary>
    /// The latest sign of life: a call to this activation, or the heartbeat in storage. An activation's
    /// own start is none (the expiry reminder starts activations too). After its silo died the stored
    /// heartbeat is at most a quarter TTL old, and the driver's next heartbeat comes within its interval.
    /// </summary>
    private DateTimeOffset LastHeartbeat => _lastSeen > State.LastHeartbeat ? _lastSeen : State.LastHeartbeat;

    private async Task UnregisterApplicationAsync(string reason)
    {
        if (IsRegistered)
        {
            // The data first, then the state: an unregister cut short (its silo died) leaves the application
            // registered, so the driver's retry or the expiry reminder deletes it again; deletion is idempotent.
            var records = State.Shuffles.Values.ToList();
            foreach (var record in records) await DestroyAsync(record).ConfigureAwait(true);
            await SweepSilosAsync(null).ConfigureAwait(true);
            await _state.ClearStateAsync().ConfigureAwait(true);
            foreach (int shuffleId in records.Select(r => r.ShuffleId)) Release(shuffleId);
            GrainLog.ApplicationUnregistered(_logger, _appId, reason);
        }
        await UnregisterReminderAsync().ConfigureAwait(true);
        Deactivate();
    }

    private async Task UnregisterReminderAsync()
    {
        if (await this.GetReminder(ExpiryReminder).ConfigureAwait(true) is { } reminder)
            await this.UnregisterReminder(reminder).ConfigureAwait(true);
    }

    /// <summary>Deletes every copy of a shuffle, best effort: a silo that fails is logged; its copies go with it when it restarts.</summary>
    private async Task DestroyAsync(ShuffleRecord record)
    {
        var errors = await Task.WhenAll(record.Locations.Select(l => _copies.DestroyAsync(record.ShuffleId, l))).ConfigureAwait(true);
        if (errors.FirstOrDefault(e => e is not null) is { } error)
            GrainLog.DestroyFailed(_logger, error, _appId, record.ShuffleId, errors.Count(e => e is not null));
    }

    /// <summary>
    /// Asks every Active silo to delete what it still hosts of the application (of one shuffle, when
    /// <paramref name="shuffleId"/> is given): copies whose grain could not be reached to delete them (a
    /// call that went astray while a silo's directory partition was being recovered), or that an
    /// abandoned placement left. Best effort, like the rest of deletion.
    /// </summary>
    private async Task SweepSilosAsync(int? shuffleId)
    {
        var silos = _membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToList();
        var swept = await Task.WhenAll(silos.Select(async silo =>
        {
            try
            {
                using var member = _clusterKey.AttachMemberToken();
                return await _storageSilos.DeleteCopies(silo, _appId, shuffleId).ConfigureAwait(true);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                GrainLog.SweepFailed(_logger, e, _appId, silo.ToParsableString());
                return 0;
            }
        })).ConfigureAwait(true);
        if (swept.Sum() > 0) GrainLog.SweptLeftovers(_logger, _appId, swept.Sum());
    }

    /// <summary>
    /// Ends this activation once it is idle. Orleans deactivates only when no request runs, so reducers
    /// parked in GetReducerFileGroup are answered now (NotCommitted, and they ask the next activation)
    /// instead of holding the deactivation, and every call queued behind it, until their waits end.
    /// </summary>
    private void Deactivate()
    {
        _deactivating = true;
        foreach (int shuffleId in _commitWaiters.Keys.ToList()) Release(shuffleId);
        DeactivateOnIdle();
    }

    /// <summary>
    /// The file group with each epoch's copies on silos the membership does not hold Active (Dead, or
    /// suspected and on its way out) moved after the others: a reader tries a copy on a hung or dead
    /// silo only when no other is left. The stored group keeps the commit's order.
    /// </summary>
    private ReducerFileGroup LiveCopiesFirst(ReducerFileGroup group)
    {
        var members = _membership.CurrentSnapshot.Members;
        var notActive = members.Values.Where(m => m.Status != SiloStatus.Active).Select(m => m.SiloAddress.ToParsableString()).ToHashSet(StringComparer.Ordinal);
        if (notActive.Count == 0) return group;
        bool Live(CommittedCopy copy) => !notActive.Contains(copy.Silo.Identity);
        if (group.Locations.All(l => l.Copies.Count < 2 || l.Copies.All(Live) || !l.Copies.Any(Live))) return group;
        return group with
        {
            Locations = [.. group.Locations.Select(l => l.Copies.Count < 2 ? l : l with { Copies = [.. l.Copies.OrderBy(c => Live(c) ? 0 : 1)] })],
        };
    }

    /// <summary>Queues a commit of the shuffle as a request of its own, after the current one.</summary>
    private void SelfCommit(int shuffleId) => this.AsReference<IShuffleGrain>().CommitShuffle(shuffleId).Ignore();

    /// <summary>Wakes every GetReducerFileGroup waiting for the shuffle; each looks at the outcome itself.</summary>
    private void Release(int shuffleId)
    {
        if (_commitWaiters.Remove(shuffleId, out var waiters)) waiters.TrySetResult();
    }

    /// <summary>
    /// QuotaExceeded when the application's shuffles would hold, with <paramref name="wanted"/> more
    /// copies, more than <see cref="ApplicationOptions.MaxSlotShare"/> of the slots of the grid's
    /// Active silos. Only copies on Active silos count (a dead silo's copies hold nothing). The slots
    /// come from the placement's own slot reports (<see cref="SlotReportCache"/>: young ones reused,
    /// each fetch bounded), so a hung silo not yet voted out costs the registration seconds, not the
    /// grain's response timeout; when none answers, the placement that follows says what is wrong (NoSlots).
    /// </summary>
    private async Task CheckSlotQuotaAsync(int shuffleId, ShuffleSpec spec, int wanted)
    {
        if (_options.MaxSlotShare >= 1) return;
        var active = _membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToList();
        var activeIdentities = active.Select(a => a.ToParsableString()).ToHashSet(StringComparer.Ordinal);
        int held = State.Shuffles.Values.Sum(r => r.Locations.Sum(l => l.Copies.Count(c => activeIdentities.Contains(c.Identity))));
        long gridSlots = await _slotReports.TotalSlotsAsync(active).ConfigureAwait(true);
        if (gridSlots == 0) return;
        long quota = (long)Math.Floor(_options.MaxSlotShare * gridSlots);
        if (held + wanted <= quota) return;
        GrainLog.QuotaExceeded(_logger, _appId, shuffleId, held, wanted, quota);
        throw new GridException(GridErrorCode.QuotaExceeded,
            $"Shuffle {_appId}/{shuffleId} ({spec}) needs {wanted} partition slots; the application holds {held} and may hold {quota} " +
            $"(Applications:MaxSlotShare {_options.MaxSlotShare:0.##} of the grid's {gridSlots} slots). Unregister finished shuffles, or ask for fewer partitions.");
    }

    /// <summary>With one active silo there is nowhere to put a replica: the shuffle's new epochs run unreplicated, and say so.</summary>
    private bool Replicate(ShuffleSpec spec)
    {
        if (spec.Replicas < 2) return false;
        int active = _membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        if (active > 1) return true;
        GrainLog.NoSiloForReplica(_logger, _appId, active);
        return false;
    }

    private async Task WriteStateAsync()
    {
        try
        {
            await _state.WriteStateAsync().ConfigureAwait(true);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // This activation's memory now holds a change storage does not (an etag conflict: another
            // activation wrote; or a storage failure). It goes, and the next call activates a fresh one
            // from storage, which a retried call (every call is idempotent) then changes again.
            GrainLog.StateWriteFailed(_logger, e, _appId);
            Deactivate();
            throw;
        }
    }

    private void RequireRegistered()
    {
        if (IsRegistered) return;
        Deactivate();
        throw new GridException(GridErrorCode.UnknownApplication,
            $"Application {_appId} is not registered (never registered, unregistered, or its heartbeat lapsed and its data was deleted).");
    }

    private ShuffleRecord Get(int shuffleId) => State.Shuffles.TryGetValue(shuffleId, out var record)
        ? record
        : throw new GridException(GridErrorCode.UnknownShuffle, $"Shuffle {_appId}/{shuffleId} is not registered (or was unregistered).");

    private void Touch() => _lastSeen = _time.GetUtcNow();
}
