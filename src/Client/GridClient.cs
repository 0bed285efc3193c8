using System.Diagnostics;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A process's handle on the shuffle grid. The driver registers applications and shuffles and
/// waits for commits; executors create writers (map side) and readers (reduce side). One client
/// keeps one connection per silo, shared by all of its writers and readers, and caches push
/// locations and committed file groups per shuffle, so many tasks in one process ask once.
/// Thread-safe.
/// </summary>
public sealed class GridClient : IAsyncDisposable
{
    private readonly GridClientOptions _options;
    private readonly ConnectionPool _pool;
    private readonly ClusterViewProvider _views;
    private readonly ShuffleGrainRouter _router;
    private readonly GridClientTransport _transport;
    private readonly SharedTaskCache<ShuffleKey, PartitionLocation[]> _locations = new();
    private readonly SharedTaskCache<ShuffleKey, IndexedFileGroup> _fileGroups = new();

    // Serializes merges of revived locations into the cached push locations.
    private readonly Lock _locationsMerge = new();

    // Cancels shared work (cache loads, heartbeats) when the client is disposed. Never disposed
    // itself: linked heartbeat tokens may still unregister from it after disposal.
    private readonly CancellationTokenSource _lifetime = new();
    private Task _gatewayListLoop = Task.CompletedTask;
    private int _disposed;

    private GridClient(GridClientOptions options)
    {
        _options = options;
        _pool = new ConnectionPool(options.ToConnectionOptions());
        _views = new ClusterViewProvider(_pool, options.ParseGateways(), options.GatewayListProvider, _lifetime.Token);
        _router = new ShuffleGrainRouter(_pool, _views, options.ShuffleGrainFailoverTimeout);
        _transport = new GridClientTransport(this, _pool, _router);
    }

    /// <summary>The cluster as last seen: from connecting, an explicit refresh, or a refresh after a failed request.</summary>
    public ClusterView ClusterView => _views.Current;

    /// <summary>The gateways the GatewayListProvider listed last (empty without one): "host:port" of the Active silos.</summary>
    public IReadOnlyList<string> ListedGateways => _views.ListedGateways.Select(g => g.ToString()).ToList();

    /// <summary>
    /// Validates and copies <paramref name="options"/>, asks the GatewayListProvider (if any) for the
    /// gateways, connects to the first reachable gateway and reads the cluster view. With a provider, the
    /// client then reads its list and the cluster view again every provider RefreshPeriod until disposed.
    /// </summary>
    public static async Task<GridClient> ConnectAsync(GridClientOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var client = new GridClient(options.Clone());
        try
        {
            await client._views.RefreshAsync(ct).ConfigureAwait(false);
            if (client._options.GatewayListProvider is { } provider)
            {
                var lifetime = client._lifetime.Token;
                client._gatewayListLoop = Task.Run(() => client.RefreshGatewaysPeriodicallyAsync(provider.RefreshPeriod, lifetime), CancellationToken.None);
            }
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task<ClusterView> RefreshClusterViewAsync(CancellationToken ct = default)
    {
        ThrowIfDisposed();
        return _views.RefreshAsync(ct);
    }

    public Task RegisterApplicationAsync(string appId, CancellationToken ct = default) =>
        SendAppRequestAsync(MessageType.RegisterApplication, appId, ct);

    public Task HeartbeatAsync(string appId, CancellationToken ct = default) =>
        SendAppRequestAsync(MessageType.ApplicationHeartbeat, appId, ct);

    /// <summary>Heartbeats every HeartbeatInterval in the background until the result (or this client) is disposed.</summary>
    public IAsyncDisposable StartHeartbeat(string appId)
    {
        ThrowIfDisposed();
        IdValidator.ValidateAppId(appId);
        return new HeartbeatLoop(token => HeartbeatAsync(appId, token), _options.HeartbeatInterval, _lifetime.Token);
    }

    public async Task UnregisterShuffleAsync(string appId, int shuffleId, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        ValidateShuffle(appId, shuffleId);
        var key = new ShuffleKey(appId, shuffleId);
        try
        {
            await _router.SendAsync<ShuffleRequest, Empty>(appId, MessageType.UnregisterShuffle, new ShuffleRequest(appId, shuffleId), ct)
                .ConfigureAwait(false);
        }
        finally
        {
            // The shuffle's data is going away either way: nothing cached about it is worth keeping.
            ForgetLocations(key);
            _fileGroups.Remove(key);
        }
    }

    public async Task UnregisterApplicationAsync(string appId, CancellationToken ct = default)
    {
        try
        {
            await SendAppRequestAsync(MessageType.UnregisterApplication, appId, ct).ConfigureAwait(false);
        }
        finally
        {
            _locations.RemoveWhere(key => key.AppId == appId);
            _fileGroups.RemoveWhere(key => key.AppId == appId);
        }
    }

    /// <summary>Registers the shuffle (idempotent on the silo) and returns one push location per partition, indexed by partition id.</summary>
    public async Task<IReadOnlyList<PartitionLocation>> RegisterShuffleAsync(
        string appId, int shuffleId, int numMaps, int numPartitions, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        ValidateShuffle(appId, shuffleId);
        IdValidator.ValidateShape(numMaps, numPartitions);
        var locations = await RegisterShuffleCoreAsync(new RegisterShuffle(appId, shuffleId, numMaps, numPartitions, _options.Replicas), ct)
            .ConfigureAwait(false);
        _locations.Set(new ShuffleKey(appId, shuffleId), locations);
        return Array.AsReadOnly(locations);
    }

    /// <summary>
    /// The committed file group of the shuffle. While the shuffle is not committed yet this polls
    /// (50 ms growing to 1 s) for up to CommitWaitTimeout. The answer is cached for the process.
    /// </summary>
    public async Task<ReducerFileGroup> GetReducerFileGroupAsync(string appId, int shuffleId, CancellationToken ct = default)
    {
        var indexed = await GetIndexedFileGroupAsync(appId, shuffleId, ct).ConfigureAwait(false);
        return indexed.Group;
    }

    /// <summary>A writer for one map attempt. The shuffle is registered (once per process) if needed.</summary>
    public async Task<ShuffleWriter> CreateWriterAsync(
        string appId, int shuffleId, int numMaps, int numPartitions, int mapId, int attemptId, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        ValidateShuffle(appId, shuffleId);
        IdValidator.ValidateShape(numMaps, numPartitions);
        IdValidator.ValidateMapAttempt(mapId, attemptId);
        if (mapId >= numMaps)
            throw new GridException(ErrorCode.InvalidId, $"Invalid map id {mapId}: the shuffle has {numMaps} maps.");

        var request = new RegisterShuffle(appId, shuffleId, numMaps, numPartitions, _options.Replicas);
        var locations = await _locations
            .GetOrLoadAsync(new ShuffleKey(appId, shuffleId), _ => RegisterShuffleCoreAsync(request, _lifetime.Token), ct)
            .ConfigureAwait(false);
        if (locations.Length != numPartitions)
        {
            // Another task registered a different shape; let the silo decide (it answers ShuffleMismatch).
            locations = await RegisterShuffleCoreAsync(request, ct).ConfigureAwait(false);
        }
        return new ShuffleWriter(_transport, _options, appId, shuffleId, mapId, attemptId, locations);
    }

    /// <summary>
    /// Asks the ShuffleGrain for a newer epoch of each partition epoch in <paramref name="partitions"/>
    /// (whose pushes failed, or which a silo asked to split), placed on none of
    /// <paramref name="excludedSilos"/> (silo identities). A partition someone revived already gets
    /// its current, newer location. The result is aligned with <paramref name="partitions"/>: entry i
    /// is the location of partitions[i], at an epoch greater than the one asked. The client's cached
    /// push locations are updated, so writers created later push to the new epochs at once.
    /// </summary>
    public async Task<IReadOnlyList<PartitionLocation>> ReviveAsync(
        string appId, int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        ValidateShuffle(appId, shuffleId);
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(excludedSilos);
        if (partitions.Count == 0) return [];
        var asked = new HashSet<int>(partitions.Count);
        foreach (var p in partitions)
        {
            IdValidator.ValidatePartition(p.PartitionId, p.Epoch);
            if (!asked.Add(p.PartitionId))
                throw new ArgumentException($"Partition {p.PartitionId} is asked for twice.", nameof(partitions));
        }
        foreach (string silo in excludedSilos)
        {
            if (string.IsNullOrEmpty(silo)) throw new ArgumentException("An excluded silo identity is empty.", nameof(excludedSilos));
        }

        var request = new Revive(appId, shuffleId, [.. partitions], [.. excludedSilos]);
        var reply = await _router.SendAsync<Revive, ShuffleLocations>(appId, MessageType.Revive, request, ct).ConfigureAwait(false);
        var revived = AlignRevived(reply, request);
        MergeRevived(new ShuffleKey(appId, shuffleId), revived);
        return Array.AsReadOnly(revived);
    }

    /// <summary>A reader of one partition, limited to maps in [startMap, endMap). Nothing is fetched until it is enumerated.</summary>
    public ShuffleReader CreateReader(string appId, int shuffleId, int partitionId, int startMap = 0, int endMap = int.MaxValue)
    {
        ThrowIfDisposed();
        ValidateShuffle(appId, shuffleId);
        IdValidator.ValidatePartition(partitionId, 0);
        ArgumentOutOfRangeException.ThrowIfNegative(startMap);
        ArgumentOutOfRangeException.ThrowIfLessThan(endMap, startMap);
        return new ShuffleReader(_transport, appId, shuffleId, partitionId, startMap, endMap, _options.FetchChunksInFlight);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _lifetime.Cancel();
        // The loop ends on the cancellation (it catches its own failures); nothing of it runs after the pool is gone.
        await _gatewayListLoop.ConfigureAwait(false);
        await _pool.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Every <paramref name="period"/>: the provider's list of Active silos, then the cluster view, so a
    /// long-lived client knows silos that joined and forgets those that left before a request fails.
    /// Failures are kept quiet: the previous list and view stay, and requests refresh on their own failures.
    /// </summary>
    private async Task RefreshGatewaysPeriodicallyAsync(TimeSpan period, CancellationToken stop)
    {
        try
        {
            using var timer = new PeriodicTimer(period);
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                try
                {
                    await _views.RefreshGatewayListAsync(stop).ConfigureAwait(false);
                    await _views.RefreshAsync(stop).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    // Keep the last list and view; the next tick or a failing request tries again.
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    internal void ForgetLocations(ShuffleKey key) => _locations.Remove(key);

    /// <summary>The cached file group, indexed by partition for readers.</summary>
    internal Task<IndexedFileGroup> GetIndexedFileGroupAsync(string appId, int shuffleId, CancellationToken ct)
    {
        ThrowIfDisposed();
        ValidateShuffle(appId, shuffleId);
        return _fileGroups.GetOrLoadAsync(new ShuffleKey(appId, shuffleId), key => WaitForCommitAsync(key, _lifetime.Token), ct);
    }

    private async Task SendAppRequestAsync(MessageType type, string appId, CancellationToken ct)
    {
        ThrowIfDisposed();
        IdValidator.ValidateAppId(appId);
        await _router.SendAsync<AppRequest, Empty>(appId, type, new AppRequest(appId), ct).ConfigureAwait(false);
    }

    private async Task<PartitionLocation[]> RegisterShuffleCoreAsync(RegisterShuffle request, CancellationToken ct)
    {
        var reply = await _router.SendAsync<RegisterShuffle, ShuffleLocations>(request.AppId, MessageType.RegisterShuffle, request, ct)
            .ConfigureAwait(false);
        return IndexByPartition(reply, request);
    }

    /// <summary>The locations ordered by partition id; a reply that does not name every partition exactly once is refused.</summary>
    private static PartitionLocation[] IndexByPartition(ShuffleLocations reply, RegisterShuffle request)
    {
        var key = new ShuffleKey(request.AppId, request.ShuffleId);
        if (reply.Locations.Count != request.NumPartitions)
        {
            throw new GridException(ErrorCode.Internal,
                $"RegisterShuffle of {key} returned {reply.Locations.Count} locations for {request.NumPartitions} partitions.");
        }
        var byPartition = new PartitionLocation[request.NumPartitions];
        var seen = new bool[request.NumPartitions];
        foreach (var location in reply.Locations)
        {
            int p = location.PartitionId;
            if (p >= request.NumPartitions || seen[p])
                throw new GridException(ErrorCode.Internal, $"RegisterShuffle of {key} returned a bad or repeated location for partition {p}.");
            seen[p] = true;
            byPartition[p] = location;
        }
        return byPartition;
    }

    /// <summary>The reply's locations in the order asked; each asked partition must be answered once, at a newer epoch.</summary>
    private static PartitionLocation[] AlignRevived(ShuffleLocations reply, Revive request)
    {
        var key = new ShuffleKey(request.AppId, request.ShuffleId);
        var byPartition = new Dictionary<int, PartitionLocation>(reply.Locations.Count);
        foreach (var location in reply.Locations)
        {
            if (!byPartition.TryAdd(location.PartitionId, location))
                throw new GridException(ErrorCode.Internal, $"Revive of {key} returned partition {location.PartitionId} twice.");
        }
        var aligned = new PartitionLocation[request.Partitions.Count];
        for (int i = 0; i < aligned.Length; i++)
        {
            var asked = request.Partitions[i];
            if (!byPartition.TryGetValue(asked.PartitionId, out var location))
                throw new GridException(ErrorCode.Internal, $"Revive of {key} returned no location for partition {asked.PartitionId}.");
            if (location.Epoch <= asked.Epoch)
            {
                throw new GridException(ErrorCode.Internal,
                    $"Revive of {key} returned epoch {location.Epoch} for partition {asked.PartitionId} epoch {asked.Epoch}; a newer epoch was expected.");
            }
            aligned[i] = location;
        }
        return aligned;
    }

    /// <summary>Newer epochs replace older ones in the cached push locations of the shuffle, if there are any.</summary>
    private void MergeRevived(ShuffleKey key, PartitionLocation[] revived)
    {
        lock (_locationsMerge)
        {
            if (!_locations.TryGetLoaded(key, out var cached)) return;
            PartitionLocation[]? merged = null;
            foreach (var location in revived)
            {
                int p = location.PartitionId;
                if (p >= cached.Length || cached[p].Epoch >= location.Epoch) continue;
                merged ??= (PartitionLocation[])cached.Clone();
                merged[p] = location;
            }
            // A fresh array: writers created before hold the old one and never see it change.
            if (merged is not null) _locations.Set(key, merged);
        }
    }

    private async Task<IndexedFileGroup> WaitForCommitAsync(ShuffleKey key, CancellationToken ct)
    {
        var timeout = _options.CommitWaitTimeout;
        long started = Stopwatch.GetTimestamp();
        var request = new ShuffleRequest(key.AppId, key.ShuffleId);
        // Every poll but the last sleeps at least the first interval, so the deadline ends the loop first.
        long maxPolls = timeout.Ticks / RetryPolicy.FirstCommitPoll.Ticks + 2;
        for (long poll = 0; poll < maxPolls; poll++)
        {
            try
            {
                var group = await _router.SendAsync<ShuffleRequest, ReducerFileGroup>(key.AppId, MessageType.GetReducerFileGroup, request, ct)
                    .ConfigureAwait(false);
                return new IndexedFileGroup(group);
            }
            catch (GridException e) when (e.Code == ErrorCode.NotCommitted)
            {
                var remaining = timeout - Stopwatch.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero) throw NotCommittedInTime(key, e);
                var delay = RetryPolicy.Backoff((int)Math.Min(poll, 20), RetryPolicy.FirstCommitPoll, RetryPolicy.MaxCommitPoll);
                await Task.Delay(delay < remaining ? delay : remaining, ct).ConfigureAwait(false);
            }
        }
        throw NotCommittedInTime(key, null);
    }

    private GridException NotCommittedInTime(ShuffleKey key, GridException? last) =>
        new(ErrorCode.NotCommitted,
            $"{key} did not commit within {_options.CommitWaitTimeout.TotalSeconds:0.#} s" + (last is null ? "." : $": {last.Message}"), last);

    private static void ValidateShuffle(string appId, int shuffleId)
    {
        IdValidator.ValidateAppId(appId);
        IdValidator.ValidateShuffleId(shuffleId);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
