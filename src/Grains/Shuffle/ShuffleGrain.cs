using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Persistence;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>
/// The lifecycle manager of one application, like Celeborn's LifecycleManager but as a virtual
/// actor on a storage silo instead of inside the driver. It registers shuffles lazily, places each
/// partition epoch (a primary and a replica) by slots, revives partitions whose pushes failed to a
/// new epoch, records which attempt of each map ended first, commits every copy when all maps have
/// ended, answers reducers, and deletes data on unregister or when the heartbeat lapses.
/// Its state is written to grain storage on every change (etag-checked), so when its silo dies the
/// grain re-activates on another silo with everything it knew. Calls run one at a time (a turn).
/// </summary>
public sealed class ShuffleGrain
{
    public const string GrainType = "shuffle";
    private const int PlacementRounds = 3;
    private const int CommitAttempts = 3;

    /// <summary>How long GetReducerFileGroup waits for a running commit before answering NotCommitted.</summary>
    private static readonly TimeSpan CommitReplyWait = TimeSpan.FromSeconds(10);

    private static readonly JsonSerializerOptions Json = new();

    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Dictionary<int, Task<ReducerFileGroup>> _commits = [];
    private readonly ISiloDirectory _silos;
    private readonly SlotAwarePlacementDirector _placement;
    private readonly IGrainStorage _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private ShuffleGrainState _state = new();
    private string? _etag;
    private long _lastActivityTicks;

    public ShuffleGrain(string appId, ISiloDirectory silos, SlotAwarePlacementDirector placement, IGrainStorage storage, TimeProvider time, ILogger logger)
    {
        IdValidator.ValidateAppId(appId);
        AppId = appId;
        _silos = silos;
        _placement = placement;
        _storage = storage;
        _time = time;
        _logger = logger;
        Touch();
    }

    public string AppId { get; }

    /// <summary>The application registered (its state exists in storage).</summary>
    public bool IsRegistered => _etag is not null;

    /// <summary>Another activation wrote this grain's state: this one is stale and must be dropped.</summary>
    public bool IsDefunct { get; private set; }

    /// <summary>When the driver last heartbeat or any client called this grain.</summary>
    public DateTimeOffset LastActivity => new(Interlocked.Read(ref _lastActivityTicks), TimeSpan.Zero);

    public bool IsExpired(TimeSpan ttl) => _time.GetUtcNow() - LastActivity > ttl;

    public void Touch() => Interlocked.Exchange(ref _lastActivityTicks, _time.GetUtcNow().UtcTicks);

    /// <summary>
    /// OnActivateAsync: loads the state. A shuffle whose maps all ended but whose commit outcome was
    /// never recorded (the previous activation died committing) is committed again; commit is idempotent.
    /// </summary>
    public async Task ActivateAsync()
    {
        var stored = await _storage.ReadStateAsync(GrainType, AppId).ConfigureAwait(false);
        if (stored is null) return;
        _state = JsonSerializer.Deserialize<ShuffleGrainState>(stored.Data, Json) ?? new ShuffleGrainState();
        _etag = stored.ETag;
        foreach (var record in _state.Shuffles.Values)
        {
            if (record.AllMapsEnded && record.Committed is null && record.CommitError is null) _commits[record.ShuffleId] = CommitAsync(record);
        }
    }

    public async Task RegisterApplicationAsync(CancellationToken cancellationToken)
    {
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        if (!IsRegistered) await WriteStateAsync().ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<PartitionLocation>> RegisterShuffleAsync(int shuffleId, int numMaps, int numPartitions, int replicas, CancellationToken cancellationToken)
    {
        IdValidator.ValidateShuffleId(shuffleId);
        IdValidator.ValidateShape(numMaps, numPartitions);
        if (replicas is < 1 or > ReducerFileGroup.MaxCopies)
            throw new GridException(ErrorCode.InvalidArgument, $"Replicas must be 1 or {ReducerFileGroup.MaxCopies}, not {replicas}.");
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        if (_state.Shuffles.TryGetValue(shuffleId, out var existing))
        {
            if (existing.NumMaps != numMaps || existing.NumPartitions != numPartitions)
            {
                throw new GridException(ErrorCode.ShuffleMismatch,
                    $"Shuffle {AppId}/{shuffleId} is registered with {existing.NumMaps} maps and {existing.NumPartitions} partitions, not {numMaps} and {numPartitions}.");
            }
            return existing.CurrentLocations();
        }

        var epochs = Enumerable.Range(0, numPartitions).Select(p => new PartitionRef(p, 0)).ToList();
        var names = new Dictionary<string, string>();
        var locations = await PlaceOrReleaseAsync(shuffleId, epochs, replicas, [], names, cancellationToken).ConfigureAwait(false);
        var record = new ShuffleRecord
        {
            SiloNames = names,
            ShuffleId = shuffleId,
            NumMaps = numMaps,
            NumPartitions = numPartitions,
            Replicas = replicas,
            Locations = [.. locations],
            WinningAttempts = Enumerable.Repeat(-1, numMaps).ToArray(),
        };
        _state.Shuffles[shuffleId] = record;
        await WriteStateAsync().ConfigureAwait(false);
        GrainLog.ShuffleRegistered(_logger, AppId, shuffleId, numMaps, numPartitions, record.Silos().Count());
        return record.CurrentLocations();
    }

    /// <summary>
    /// Gives partitions whose pushes failed (or that split) a new epoch on other silos. A partition
    /// already revived past the failed epoch gets its current location, so concurrent writers that
    /// saw the same failure share one new epoch.
    /// </summary>
    public async Task<IReadOnlyList<PartitionLocation>> ReviveAsync(int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos, CancellationToken cancellationToken)
    {
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        var record = Get(shuffleId);
        if (record.AllMapsEnded)
            throw new GridException(ErrorCode.MapEnded, $"Shuffle {AppId}/{shuffleId} has ended: every map ended, nothing more is pushed.");
        var wanted = partitions.Select(p => p.PartitionId).Distinct().ToList();
        foreach (int partition in wanted)
        {
            if (partition < 0 || partition >= record.NumPartitions)
                throw new GridException(ErrorCode.InvalidId, $"Partition {partition} does not exist in {AppId}/{shuffleId}.");
        }

        var failedEpoch = partitions.GroupBy(p => p.PartitionId).ToDictionary(g => g.Key, g => g.Max(p => p.Epoch));
        var toPlace = wanted.Select(record.Current).Where(current => current.Epoch <= failedEpoch[current.PartitionId])
            .Select(current => new PartitionRef(current.PartitionId, current.Epoch + 1)).ToList();
        if (toPlace.Count > 0)
        {
            var placed = await PlaceOrReleaseAsync(shuffleId, toPlace, record.Replicas, excludedSilos, record.SiloNames, cancellationToken).ConfigureAwait(false);
            record.Locations.AddRange(placed);
            await WriteStateAsync().ConfigureAwait(false);
            GrainLog.Revived(_logger, AppId, shuffleId, toPlace.Count, string.Join(",", excludedSilos));
        }
        return wanted.Select(record.Current).ToList();
    }

    /// <summary>
    /// Places the epochs. If a first registration fails, what it reserved is freed by deleting the
    /// shuffle on those silos (nothing else of it exists yet). A failed revive frees nothing: the
    /// silos hold acknowledged data of the shuffle, and its stray reservations go when it is unregistered.
    /// </summary>
    private async Task<List<PartitionLocation>> PlaceOrReleaseAsync(
        int shuffleId, IReadOnlyList<PartitionRef> epochs, int replicas, IReadOnlyList<string> excludedSilos, Dictionary<string, string> names,
        CancellationToken cancellationToken)
    {
        var reserved = new Dictionary<string, SiloInfo>();
        try
        {
            var placed = await PlaceAsync(shuffleId, epochs, replicas, excludedSilos, reserved, cancellationToken).ConfigureAwait(false);
            foreach (var silo in reserved.Values) names[silo.Identity] = silo.Name;
            return placed;
        }
        catch (GridException) when (!_state.Shuffles.ContainsKey(shuffleId))
        {
            await DestroyOnAsync(reserved.Values.Select(Endpoint), shuffleId, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Places each epoch's primary and replica and reserves them on their silos. A silo that refuses
    /// or cannot be reached is left out and the epochs that touched it are placed again.
    /// </summary>
    private async Task<List<PartitionLocation>> PlaceAsync(
        int shuffleId, IReadOnlyList<PartitionRef> epochs, int replicas, IReadOnlyList<string> excludedSilos,
        Dictionary<string, SiloInfo> reserved, CancellationToken cancellationToken)
    {
        var placed = new List<PartitionLocation>();
        var pending = epochs.ToList();
        var excluded = new HashSet<string>(excludedSilos);
        for (int round = 0; pending.Count > 0; round++)
        {
            var active = (await _silos.GetActiveSilosWithLoadAsync(cancellationToken).ConfigureAwait(false))
                .Where(s => !excluded.Contains(s.Identity)).ToList();
            if (round >= PlacementRounds || active.Count == 0)
                throw new GridException(ErrorCode.NoSlots, $"Could not place {pending.Count} partitions of {AppId}/{shuffleId}: no silo accepted them.");
            var chosen = _placement.PlaceWithReplicas(pending.Count, active, replicas, (int)HashOf(shuffleId, round));
            var candidates = pending.Select((epoch, i) => new PartitionLocation(
                epoch.PartitionId, epoch.Epoch, Endpoint(chosen[i].Primary), chosen[i].Replica is { } r ? Endpoint(r) : null)).ToList();

            var bySilo = new Dictionary<string, (SiloInfo Silo, List<PartitionReservation> Reservations)>();
            foreach (var (location, i) in candidates.Select((l, i) => (l, i)))
            {
                Add(chosen[i].Primary, new PartitionReservation(location.PartitionId, location.Epoch, PartitionRole.Primary, location.Replica));
                if (chosen[i].Replica is { } replica)
                    Add(replica, new PartitionReservation(location.PartitionId, location.Epoch, PartitionRole.Replica, location.Primary));
            }

            var failed = new HashSet<string>();
            await Task.WhenAll(bySilo.Values.Select(async entry =>
            {
                try
                {
                    await _silos.ReservePartitionsAsync(Endpoint(entry.Silo), new ReservePartitions(AppId, shuffleId, entry.Reservations), cancellationToken).ConfigureAwait(false);
                    lock (reserved) reserved[entry.Silo.Identity] = entry.Silo;
                }
                catch (GridException e) when (e.Code is ErrorCode.NoSlots or ErrorCode.SiloUnavailable or ErrorCode.ConnectionLost or ErrorCode.Timeout or ErrorCode.ShuttingDown)
                {
                    GrainLog.ReserveFailed(_logger, e, AppId, shuffleId, entry.Reservations.Count, entry.Silo.Name);
                    lock (failed) failed.Add(entry.Silo.Identity);
                }
            })).ConfigureAwait(false);

            pending = [];
            foreach (var location in candidates)
            {
                if (location.Copies.Any(c => failed.Contains(c.Identity))) pending.Add(new PartitionRef(location.PartitionId, location.Epoch));
                else placed.Add(location);
            }
            excluded.UnionWith(failed);

            void Add(SiloInfo silo, PartitionReservation reservation)
            {
                if (!bySilo.TryGetValue(silo.Identity, out var entry)) bySilo[silo.Identity] = entry = (silo, []);
                entry.Reservations.Add(reservation);
            }
        }
        return placed;
    }

    public async Task<MapperEndReply> MapperEndAsync(int shuffleId, int mapId, int attemptId, CancellationToken cancellationToken)
    {
        IdValidator.ValidateMapAttempt(mapId, attemptId);
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        var record = Get(shuffleId);
        if (mapId >= record.NumMaps)
            throw new GridException(ErrorCode.InvalidId, $"Map {mapId} does not exist in {AppId}/{shuffleId} ({record.NumMaps} maps).");

        int winner = record.WinningAttempts[mapId];
        if (winner < 0)
        {
            record.WinningAttempts[mapId] = winner = attemptId;
            record.EndedMaps++;
            await WriteStateAsync().ConfigureAwait(false);
            if (record.AllMapsEnded) _commits[shuffleId] = CommitAsync(record);
        }
        return new MapperEndReply(winner == attemptId, winner, record.AllMapsEnded);
    }

    public async Task<ReducerFileGroup> GetReducerFileGroupAsync(int shuffleId, CancellationToken cancellationToken)
    {
        Task<ReducerFileGroup> commit;
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            var record = Get(shuffleId);
            if (record.Committed is { } committed) return committed;
            if (record.CommitError is { } error) throw new GridException(ErrorCode.DataLost, error);
            if (!record.AllMapsEnded)
                throw new GridException(ErrorCode.NotCommitted, $"Shuffle {AppId}/{shuffleId} is not committed: {record.EndedMaps} of {record.NumMaps} maps have ended.");
            if (!_commits.TryGetValue(shuffleId, out commit!)) _commits[shuffleId] = commit = CommitAsync(record);
        }
        // Await outside the turn: the commit runs on its own and other calls go on meanwhile. A commit
        // waiting on a slow silo answers NotCommitted, and the reducer polls, rather than the request timing out.
        try
        {
            return await commit.WaitAsync(CommitReplyWait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new GridException(ErrorCode.NotCommitted, $"Shuffle {AppId}/{shuffleId} is committing; ask again.");
        }
    }

    /// <summary>
    /// Commits every copy of every partition epoch on its silo. An epoch is committed when at least
    /// one copy is; an epoch with none is lost, and the commit fails with DataLost naming them.
    /// </summary>
    private async Task<ReducerFileGroup> CommitAsync(ShuffleRecord record)
    {
        long started = Stopwatch.GetTimestamp();
        var copies = record.Locations.SelectMany(l => l.Copies.Select(c => (Location: l, Silo: c))).ToList();
        var results = await Task.WhenAll(copies.GroupBy(c => c.Silo.Identity).Select(async group =>
        {
            var silo = group.First().Silo;
            var refs = new PartitionRefs(AppId, record.ShuffleId, group.Select(c => new PartitionRef(c.Location.PartitionId, c.Location.Epoch)).ToList());
            var (reply, error) = await CommitOnAsync(silo, refs).ConfigureAwait(false);
            return (Silo: silo, Reply: reply, Error: error);
        })).ConfigureAwait(false);

        var files = new Dictionary<(int, int, string), CommittedFile>();
        foreach (var (silo, reply, _) in results)
        {
            foreach (var p in reply?.Partitions ?? []) files[(p.PartitionId, p.Epoch, silo.Identity)] = p.File;
        }
        var committed = new List<CommittedLocation>(record.Locations.Count);
        var lost = new List<string>();
        foreach (var location in record.Locations.OrderBy(l => l.PartitionId).ThenBy(l => l.Epoch))
        {
            var ok = location.Copies
                .Where(c => files.ContainsKey((location.PartitionId, location.Epoch, c.Identity)))
                .Select(c => new CommittedCopy(c, files[(location.PartitionId, location.Epoch, c.Identity)])).ToList();
            if (ok.Count > 0)
            {
                committed.Add(new CommittedLocation(location, ok));
                continue;
            }
            string where = string.Join(" and ", location.Copies.Select(record.NameOf));
            string why = string.Join("; ", location.Copies.Select(c => results.FirstOrDefault(r => r.Silo.Identity == c.Identity).Error?.Message ?? "not committed"));
            lost.Add($"{location.PartitionId}-{location.Epoch} on {where} ({why})");
        }

        using (await EnterAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (lost.Count > 0)
            {
                string names = string.Join(", ", lost);
                GrainLog.CommitLostData(_logger, AppId, record.ShuffleId, names);
                record.CommitError = $"Shuffle data lost for {AppId}/{record.ShuffleId}: no copy of partitions {names} committed. Rerun the map stage.";
                await WriteStateAsync().ConfigureAwait(false);
                throw new GridException(ErrorCode.DataLost, record.CommitError);
            }
            record.Committed = new ReducerFileGroup(record.NumMaps, record.NumPartitions, (int[])record.WinningAttempts.Clone(), committed);
            await WriteStateAsync().ConfigureAwait(false);
        }
        GrainLog.ShuffleCommitted(_logger, AppId, record.ShuffleId, committed.Sum(c => c.Copies[0].File.Bytes), committed.Sum(c => (long)c.Copies[0].File.BatchCount),
            committed.Count, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return record.Committed;
    }

    /// <summary>Commits on one silo, retrying transient failures; a silo that stays unreachable yields its error.</summary>
    private async Task<(CommitReply? Reply, Exception? Error)> CommitOnAsync(SiloEndpoint silo, PartitionRefs refs)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < CommitAttempts; attempt++)
        {
            try
            {
                return (await _silos.CommitPartitionsAsync(silo, refs, CancellationToken.None).ConfigureAwait(false), null);
            }
            catch (GridException e) when (e.Code is ErrorCode.ConnectionLost or ErrorCode.Timeout or ErrorCode.SiloUnavailable)
            {
                last = e;
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), _time).ConfigureAwait(false);
            }
            catch (GridException e)
            {
                return (null, e);
            }
        }
        return (null, last);
    }

    public async Task UnregisterShuffleAsync(int shuffleId, CancellationToken cancellationToken)
    {
        ShuffleRecord? record;
        Task? commit;
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!_state.Shuffles.Remove(shuffleId, out record)) return;
            _commits.Remove(shuffleId, out var running);
            commit = running;
            await WriteStateAsync().ConfigureAwait(false);
        }
        await DestroyAsync(record, commit, cancellationToken).ConfigureAwait(false);
        GrainLog.ShuffleUnregistered(_logger, AppId, shuffleId);
    }

    /// <summary>Deletes every shuffle of the application and its state. The caller deactivates the grain afterwards.</summary>
    public async Task UnregisterApplicationAsync(string reason, CancellationToken cancellationToken)
    {
        List<ShuffleRecord> records;
        List<Task> commits;
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            records = [.. _state.Shuffles.Values];
            commits = [.. _commits.Values];
            if (_etag is not null)
            {
                try
                {
                    await _storage.ClearStateAsync(GrainType, AppId, _etag).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not GridException)
                {
                    IsDefunct = true;
                    throw new GridException(ErrorCode.SiloUnavailable, $"The ShuffleGrain of {AppId} could not clear its state ({e.Message}); retry.");
                }
                _etag = null;
            }
            _state = new ShuffleGrainState();
            _commits.Clear();
        }
        foreach (var record in records) await DestroyAsync(record, Task.WhenAll(commits), cancellationToken).ConfigureAwait(false);
        GrainLog.ApplicationUnregistered(_logger, AppId, reason);
    }

    private async Task DestroyAsync(ShuffleRecord record, Task? commit, CancellationToken cancellationToken)
    {
        if (commit is not null)
        {
            // Let an in-flight commit finish, so its files are not deleted under it.
            try { await commit.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false); } catch (Exception) { }
        }
        await DestroyOnAsync(record.Silos(), record.ShuffleId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a shuffle's partitions on each silo, best effort: a silo that fails logs it and expiry cleans up later.</summary>
    private Task DestroyOnAsync(IEnumerable<SiloEndpoint> silos, int shuffleId, CancellationToken cancellationToken) =>
        Task.WhenAll(silos.Select(async silo =>
        {
            try
            {
                await _silos.DestroyShuffleAsync(silo, AppId, shuffleId, cancellationToken).ConfigureAwait(false);
            }
            catch (GridException e)
            {
                GrainLog.DestroyFailed(_logger, e, AppId, shuffleId, silo.Identity);
            }
        }));

    /// <summary>A summary of each shuffle, for the silo's state page.</summary>
    public async Task<IReadOnlyList<ShuffleSummary>> DescribeAsync(CancellationToken cancellationToken)
    {
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        return _state.Shuffles.Values.Select(s => new ShuffleSummary(
            s.ShuffleId, s.NumMaps, s.NumPartitions, s.EndedMaps,
            s.Committed is not null ? "committed" : s.CommitError is not null ? "lost" : s.AllMapsEnded ? "committing" : "open",
            s.Replicas, s.Locations.Count - s.NumPartitions,
            s.Silos().Select(s.NameOf).Order().ToList())).ToList();
    }

    private async Task WriteStateAsync()
    {
        try
        {
            _etag = await _storage.WriteStateAsync(GrainType, AppId, JsonSerializer.SerializeToUtf8Bytes(_state, Json), _etag).ConfigureAwait(false);
        }
        catch (InconsistentStateException e)
        {
            IsDefunct = true;
            throw new GridException(ErrorCode.SiloUnavailable, $"The ShuffleGrain of {AppId} moved to another silo ({e.Message}); retry.");
        }
        catch (Exception e) when (e is not GridException)
        {
            // Memory may now be ahead of storage: never serve it. The next call re-activates from storage.
            IsDefunct = true;
            throw new GridException(ErrorCode.SiloUnavailable, $"The ShuffleGrain of {AppId} could not save its state ({e.Message}); retry.");
        }
    }

    private ShuffleRecord Get(int shuffleId) => _state.Shuffles.TryGetValue(shuffleId, out var record)
        ? record
        : throw new GridException(ErrorCode.UnknownShuffle, $"Shuffle {AppId}/{shuffleId} is not registered.");

    private static SiloEndpoint Endpoint(SiloInfo silo) => new(silo.Identity, silo.Host, silo.Port);

    private static uint HashOf(int shuffleId, int round) => ((uint)shuffleId * 2654435761u) + (uint)round;

    private async Task<Turn> EnterAsync(CancellationToken cancellationToken)
    {
        Touch();
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (IsDefunct)
        {
            _turn.Release();
            throw new GridException(ErrorCode.SiloUnavailable, $"The ShuffleGrain of {AppId} moved to another silo; retry.");
        }
        return new Turn(_turn);
    }

    private readonly struct Turn(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}

/// <summary>One shuffle as the state page shows it.</summary>
public sealed record ShuffleSummary(int ShuffleId, int NumMaps, int NumPartitions, int EndedMaps, string State, int Replicas, int Revives, IReadOnlyList<string> Silos);
