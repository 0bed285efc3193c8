using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>
/// The lifecycle manager of one application, like Celeborn's LifecycleManager but as a virtual
/// actor on a storage silo (hash-placed by app id) instead of inside the driver. It registers
/// shuffles lazily, places their partitions by slots, records which attempt of each map ended
/// first, commits every partition when all maps have ended, answers reducers, and deletes data on
/// unregister or when the application's heartbeat lapses. Calls run one at a time (a turn).
/// </summary>
public sealed class ShuffleGrain
{
    private const int PlacementRounds = 3;
    private const int CommitAttempts = 3;

    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Dictionary<int, ShuffleState> _shuffles = [];
    private readonly ISiloDirectory _silos;
    private readonly SlotAwarePlacementDirector _placement;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _lastActivityTicks;

    public ShuffleGrain(string appId, ISiloDirectory silos, SlotAwarePlacementDirector placement, TimeProvider time, ILogger logger)
    {
        IdValidator.ValidateAppId(appId);
        AppId = appId;
        _silos = silos;
        _placement = placement;
        _time = time;
        _logger = logger;
        Touch();
    }

    public string AppId { get; }

    /// <summary>When the driver last heartbeat or any client called this grain.</summary>
    public DateTimeOffset LastActivity => new(Interlocked.Read(ref _lastActivityTicks), TimeSpan.Zero);

    public bool IsExpired(TimeSpan ttl) => _time.GetUtcNow() - LastActivity > ttl;

    public void Touch() => Interlocked.Exchange(ref _lastActivityTicks, _time.GetUtcNow().UtcTicks);

    public async Task<IReadOnlyList<PartitionLocation>> RegisterShuffleAsync(int shuffleId, int numMaps, int numPartitions, CancellationToken cancellationToken)
    {
        IdValidator.ValidateShuffleId(shuffleId);
        IdValidator.ValidateShape(numMaps, numPartitions);
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        if (_shuffles.TryGetValue(shuffleId, out var existing))
        {
            if (existing.NumMaps != numMaps || existing.NumPartitions != numPartitions)
            {
                throw new GridException(ErrorCode.ShuffleMismatch,
                    $"Shuffle {AppId}/{shuffleId} is registered with {existing.NumMaps} maps and {existing.NumPartitions} partitions, not {numMaps} and {numPartitions}.");
            }
            return existing.Locations;
        }

        var (locations, silos) = await PlaceOrReleaseAsync(shuffleId, numPartitions, cancellationToken).ConfigureAwait(false);
        _shuffles[shuffleId] = new ShuffleState(shuffleId, numMaps, numPartitions, locations, silos);
        GrainLog.ShuffleRegistered(_logger, AppId, shuffleId, numMaps, numPartitions, silos.Count);
        return locations;
    }

    /// <summary>Places the shuffle; if that fails, frees what was reserved so far, since no shuffle record will own it.</summary>
    private async Task<(PartitionLocation[] Locations, List<SiloInfo> Silos)> PlaceOrReleaseAsync(int shuffleId, int numPartitions, CancellationToken cancellationToken)
    {
        var reserved = new Dictionary<string, SiloInfo>();
        try
        {
            return await PlaceAsync(shuffleId, numPartitions, reserved, cancellationToken).ConfigureAwait(false);
        }
        catch (GridException)
        {
            await DestroyOnAsync(reserved.Values, shuffleId, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Places every partition (epoch 0) and reserves it on its silo. A silo that refuses or cannot be
    /// reached is left out and its partitions are placed again on the others.
    /// </summary>
    private async Task<(PartitionLocation[] Locations, List<SiloInfo> Silos)> PlaceAsync(
        int shuffleId, int numPartitions, Dictionary<string, SiloInfo> used, CancellationToken cancellationToken)
    {
        var locations = new PartitionLocation[numPartitions];
        var pending = Enumerable.Range(0, numPartitions).ToList();
        var excluded = new HashSet<string>();
        for (int round = 0; pending.Count > 0; round++)
        {
            var active = (await _silos.GetActiveSilosWithLoadAsync(cancellationToken).ConfigureAwait(false))
                .Where(s => !excluded.Contains(s.Identity)).ToList();
            if (round >= PlacementRounds || active.Count == 0)
                throw new GridException(ErrorCode.NoSlots, $"Could not place {pending.Count} partitions of {AppId}/{shuffleId}: no silo accepted them.");
            var chosen = _placement.Place(pending.Count, active, (int)HashOf(shuffleId));
            var groups = pending.Select((partition, i) => (partition, silo: chosen[i])).GroupBy(x => x.silo.Identity).ToList();
            var outcomes = await Task.WhenAll(groups.Select(async group =>
            {
                var silo = group.First().silo;
                var refs = new PartitionRefs(AppId, shuffleId, group.Select(x => new PartitionRef(x.partition, 0)).ToList());
                try
                {
                    await _silos.ReservePartitionsAsync(silo, refs, cancellationToken).ConfigureAwait(false);
                    return (group, silo, error: (Exception?)null);
                }
                catch (GridException e) when (e.Code is ErrorCode.NoSlots or ErrorCode.SiloUnavailable or ErrorCode.ConnectionLost or ErrorCode.Timeout or ErrorCode.ShuttingDown)
                {
                    GrainLog.ReserveFailed(_logger, e, AppId, shuffleId, refs.Partitions.Count, silo.Name);
                    return (group, silo, error: e);
                }
            })).ConfigureAwait(false);

            pending = [];
            foreach (var (group, silo, error) in outcomes)
            {
                if (error is not null)
                {
                    excluded.Add(silo.Identity);
                    pending.AddRange(group.Select(x => x.partition));
                    continue;
                }
                used[silo.Identity] = silo;
                foreach (var (partition, _) in group) locations[partition] = new PartitionLocation(partition, 0, silo.Identity, silo.Host, silo.Port);
            }
        }
        return (locations, used.Values.ToList());
    }

    public async Task<MapperEndReply> MapperEndAsync(int shuffleId, int mapId, int attemptId, CancellationToken cancellationToken)
    {
        IdValidator.ValidateMapAttempt(mapId, attemptId);
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        var state = Get(shuffleId);
        if (mapId >= state.NumMaps)
            throw new GridException(ErrorCode.InvalidId, $"Map {mapId} does not exist in {AppId}/{shuffleId} ({state.NumMaps} maps).");

        int winner = state.WinningAttempts[mapId];
        if (winner < 0)
        {
            state.WinningAttempts[mapId] = winner = attemptId;
            state.EndedMaps++;
            if (state.AllMapsEnded) state.Commit = CommitAsync(state);
        }
        return new MapperEndReply(winner == attemptId, winner, state.AllMapsEnded);
    }

    public async Task<ReducerFileGroup> GetReducerFileGroupAsync(int shuffleId, CancellationToken cancellationToken)
    {
        Task<ReducerFileGroup>? commit;
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            var state = Get(shuffleId);
            commit = state.Commit ?? throw new GridException(ErrorCode.NotCommitted,
                $"Shuffle {AppId}/{shuffleId} is not committed: {state.EndedMaps} of {state.NumMaps} maps have ended.");
        }
        // Await outside the turn: the commit runs on its own and other calls go on meanwhile.
        return await commit.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Commits every partition epoch on its silo; fails with DataLost naming partitions that no copy committed.</summary>
    private async Task<ReducerFileGroup> CommitAsync(ShuffleState state)
    {
        long started = Stopwatch.GetTimestamp();
        var results = await Task.WhenAll(state.Locations.GroupBy(l => l.SiloIdentity).Select(async group =>
        {
            var refs = new PartitionRefs(AppId, state.ShuffleId, group.Select(l => new PartitionRef(l.PartitionId, l.Epoch)).ToList());
            Exception? last = null;
            for (int attempt = 0; attempt < CommitAttempts; attempt++)
            {
                try
                {
                    return (group, reply: await _silos.CommitPartitionsAsync(state.Silos[group.Key], refs, CancellationToken.None).ConfigureAwait(false), error: (Exception?)null);
                }
                catch (GridException e) when (e.Code is ErrorCode.ConnectionLost or ErrorCode.Timeout or ErrorCode.SiloUnavailable)
                {
                    last = e;
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), _time).ConfigureAwait(false);
                }
                catch (GridException e)
                {
                    last = e;
                    break;
                }
            }
            return (group, reply: (CommitReply?)null, error: last);
        })).ConfigureAwait(false);

        var committed = new List<CommittedLocation>(state.Locations.Count);
        var lost = new List<string>();
        foreach (var (group, reply, error) in results)
        {
            if (reply is null)
            {
                lost.AddRange(group.Select(l => $"{l.PartitionId}-{l.Epoch} on {state.Silos[group.Key].Name} ({error?.Message})"));
                continue;
            }
            var files = reply.Partitions.ToDictionary(p => (p.PartitionId, p.Epoch));
            foreach (var location in group) committed.Add(new CommittedLocation(location, files[(location.PartitionId, location.Epoch)].File));
        }
        if (lost.Count > 0)
        {
            string names = string.Join(", ", lost);
            GrainLog.CommitLostData(_logger, AppId, state.ShuffleId, names);
            throw new GridException(ErrorCode.DataLost, $"Shuffle data lost for {AppId}/{state.ShuffleId}: partitions {names}. Rerun the map stage.");
        }
        committed.Sort((a, b) => (a.Location.PartitionId, a.Location.Epoch).CompareTo((b.Location.PartitionId, b.Location.Epoch)));
        GrainLog.ShuffleCommitted(_logger, AppId, state.ShuffleId, committed.Sum(c => c.File.Bytes), committed.Sum(c => (long)c.File.BatchCount),
            committed.Count, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new ReducerFileGroup(state.NumMaps, state.NumPartitions, (int[])state.WinningAttempts.Clone(), committed);
    }

    public async Task UnregisterShuffleAsync(int shuffleId, CancellationToken cancellationToken)
    {
        ShuffleState? state;
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!_shuffles.Remove(shuffleId, out state)) return;
        }
        await DestroyAsync(state, cancellationToken).ConfigureAwait(false);
        GrainLog.ShuffleUnregistered(_logger, AppId, shuffleId);
    }

    /// <summary>Deletes every shuffle of the application. The caller deactivates the grain afterwards.</summary>
    public async Task UnregisterApplicationAsync(string reason, CancellationToken cancellationToken)
    {
        List<ShuffleState> states;
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            states = [.. _shuffles.Values];
            _shuffles.Clear();
        }
        foreach (var state in states) await DestroyAsync(state, cancellationToken).ConfigureAwait(false);
        GrainLog.ApplicationUnregistered(_logger, AppId, reason);
    }

    private async Task DestroyAsync(ShuffleState state, CancellationToken cancellationToken)
    {
        if (state.Commit is { } commit)
        {
            // Let an in-flight commit finish, so its files are not deleted under it.
            try { await commit.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false); } catch (Exception) { }
        }
        await DestroyOnAsync(state.Silos.Values, state.ShuffleId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a shuffle's partitions on each silo, best effort: a silo that fails logs it and expiry cleans up later.</summary>
    private Task DestroyOnAsync(IEnumerable<SiloInfo> silos, int shuffleId, CancellationToken cancellationToken) =>
        Task.WhenAll(silos.Select(async silo =>
        {
            try
            {
                await _silos.DestroyShuffleAsync(silo, AppId, shuffleId, cancellationToken).ConfigureAwait(false);
            }
            catch (GridException e)
            {
                GrainLog.DestroyFailed(_logger, e, AppId, shuffleId, silo.Name);
            }
        }));

    /// <summary>A summary of each shuffle, for the silo's state page.</summary>
    public async Task<IReadOnlyList<ShuffleSummary>> DescribeAsync(CancellationToken cancellationToken)
    {
        using var turn = await EnterAsync(cancellationToken).ConfigureAwait(false);
        return _shuffles.Values.Select(s => new ShuffleSummary(
            s.ShuffleId, s.NumMaps, s.NumPartitions, s.EndedMaps,
            s.Commit switch { null => "open", { IsCompletedSuccessfully: true } => "committed", { IsFaulted: true } => "failed", _ => "committing" },
            s.Silos.Values.Select(x => x.Name).Order().ToList())).ToList();
    }

    private ShuffleState Get(int shuffleId) => _shuffles.TryGetValue(shuffleId, out var state)
        ? state
        : throw new GridException(ErrorCode.UnknownShuffle, $"Shuffle {AppId}/{shuffleId} is not registered.");

    private static uint HashOf(int shuffleId) => (uint)shuffleId * 2654435761u;

    private async Task<Turn> EnterAsync(CancellationToken cancellationToken)
    {
        Touch();
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Turn(_turn);
    }

    private readonly struct Turn(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}

/// <summary>One shuffle as the state page shows it.</summary>
public sealed record ShuffleSummary(int ShuffleId, int NumMaps, int NumPartitions, int EndedMaps, string State, IReadOnlyList<string> Silos);
