using System.Diagnostics;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A process's handle on the shuffle grid, over the process's Orleans client: the driver registers
/// applications and shuffles and heartbeats; executors create writers (map side) and readers (reduce
/// side). Control calls are grain calls to the application's ShuffleGrain; bytes go over one data
/// connection per storage silo, shared by every writer and reader of this client. Push locations and
/// committed file groups are cached per shuffle, so many tasks in one process ask once. The Orleans
/// client belongs to the caller (its host starts and stops it). Thread-safe.
/// <para>
/// Every application has a secret: <see cref="RegisterApplicationAsync"/> makes it and returns it,
/// the driver hands it to its executors, and they give it to their client with
/// <see cref="UseApplicationSecret"/>. Calls and data connections of an application whose secret
/// this client does not hold are refused by the grid with Unauthorized.
/// </para>
/// </summary>
public sealed class GridClient : IAsyncDisposable
{
    private readonly GridClientOptions _options;
    private readonly ConnectionPool _pool;
    private readonly ShuffleGrainCalls _grains;
    private readonly GridClientTransport _transport;
    private readonly SharedTaskCache<ShuffleKey, ShuffleLocations> _locations = new();
    private readonly SharedTaskCache<ShuffleKey, IndexedFileGroup> _fileGroups = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (ApplicationSecret Secret, DataPlaneCredential Data)> _secrets = new(StringComparer.Ordinal);

    // Serializes merges of revived locations into the cached push locations.
    private readonly Lock _locationsMerge = new();

    // Cancels shared work (cache loads, heartbeats) when the client is disposed. Never disposed
    // itself: linked heartbeat tokens may still unregister from it after disposal.
    private readonly CancellationTokenSource _lifetime = new();
    private int _disposed;

    /// <param name="cluster">The process's Orleans client (or a silo's grain factory), connected to the grid's cluster.</param>
    /// <param name="options">Validated and copied; null for the defaults.</param>
    /// <summary>The client's own copy of its options.</summary>
    internal GridClientOptions Options => _options;

    public GridClient(IGrainFactory cluster, GridClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        options ??= new GridClientOptions();
        options.Validate();
        _options = options.Clone();
        _pool = new ConnectionPool(_options.ToConnectionOptions());
        _grains = new ShuffleGrainCalls(cluster, _options.ShuffleGrainFailoverTimeout, appId => _secrets.TryGetValue(appId, out var known) ? known.Secret : null);
        _transport = new GridClientTransport(this, _pool, _grains);
    }

    /// <summary>
    /// Registers the application with a new random secret, which this client keeps for the
    /// application's calls and returns, for the driver to hand to its executors. A client that holds a
    /// secret for the application already (a repeat) registers with that one: registering is idempotent.
    /// </summary>
    public async Task<ApplicationSecret> RegisterApplicationAsync(string appId, CancellationToken ct = default)
    {
        IdValidator.ValidateAppId(appId);
        // One secret per application in this client, however many registrations race.
        var secret = _secrets.GetOrAdd(appId, id => NewCredentials(id, ApplicationSecret.Create())).Secret;
        await CallAsync(appId, grain => grain.RegisterApplication(secret), ct).ConfigureAwait(false);
        return secret;
    }

    /// <summary>Gives this client the secret of an application its driver registered: an executor's calls and connections then prove it.</summary>
    public void UseApplicationSecret(string appId, ApplicationSecret secret)
    {
        IdValidator.ValidateAppId(appId);
        ArgumentNullException.ThrowIfNull(secret);
        _secrets[appId] = NewCredentials(appId, secret);
    }

    private static (ApplicationSecret Secret, DataPlaneCredential Data) NewCredentials(string appId, ApplicationSecret secret) =>
        (secret, DataPlaneCredential.ForApplication(appId, secret));

    /// <summary>The data-plane credential of an application, or null when this client holds no secret for it.</summary>
    internal DataPlaneCredential? DataCredential(string appId) => _secrets.TryGetValue(appId, out var known) ? known.Data : null;

    public Task HeartbeatAsync(string appId, CancellationToken ct = default) =>
        CallAsync(appId, grain => grain.Heartbeat(), ct);

    /// <summary>Heartbeats every HeartbeatInterval in the background until the result (or this client) is disposed.</summary>
    public IAsyncDisposable StartHeartbeat(string appId)
    {
        ThrowIfDisposed();
        IdValidator.ValidateAppId(appId);
        return new HeartbeatLoop(token => HeartbeatAsync(appId, token), _options.HeartbeatInterval, _lifetime.Token);
    }

    public async Task UnregisterApplicationAsync(string appId, CancellationToken ct = default)
    {
        try
        {
            await CallAsync(appId, grain => grain.UnregisterApplication(), ct).ConfigureAwait(false);
        }
        finally
        {
            _locations.RemoveWhere(key => key.AppId == appId);
            _fileGroups.RemoveWhere(key => key.AppId == appId);
        }
    }

    /// <summary>
    /// The driver registers a shuffle and its shape: maps, partitions, and the copies the grid keeps of
    /// each partition epoch. Idempotent with the same spec; another spec is refused (ShuffleMismatch).
    /// Returns the push location of every partition, indexed by partition id.
    /// </summary>
    public async Task<ShuffleLocations> RegisterShuffleAsync(string appId, int shuffleId, ShuffleSpec spec, CancellationToken ct = default)
    {
        ValidateShuffle(appId, shuffleId);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var reply = await CallAsync(appId, grain => grain.RegisterShuffle(shuffleId, spec), ct).ConfigureAwait(false);
        var locations = IndexByPartition(new ShuffleKey(appId, shuffleId), reply);
        _locations.Set(new ShuffleKey(appId, shuffleId), locations);
        return locations;
    }

    public async Task UnregisterShuffleAsync(string appId, int shuffleId, CancellationToken ct = default)
    {
        ValidateShuffle(appId, shuffleId);
        var key = new ShuffleKey(appId, shuffleId);
        try
        {
            await CallAsync(appId, grain => grain.UnregisterShuffle(shuffleId), ct).ConfigureAwait(false);
        }
        finally
        {
            // The shuffle's data is going away either way: nothing cached about it is worth keeping.
            ForgetLocations(key);
            _fileGroups.Remove(key);
        }
    }

    /// <summary>
    /// The committed file group of the shuffle. Before the shuffle commits, the grain call waits for the
    /// commit (up to CommitWaitTimeout, or until <paramref name="ct"/> is cancelled). Cached for the process.
    /// </summary>
    public async Task<ReducerFileGroup> GetReducerFileGroupAsync(string appId, int shuffleId, CancellationToken ct = default)
    {
        var indexed = await GetIndexedFileGroupAsync(appId, shuffleId, ct).ConfigureAwait(false);
        return indexed.Group;
    }

    /// <summary>The application's shuffles as its ShuffleGrain describes them, and the silo it runs on.</summary>
    public Task<ApplicationSummary> DescribeAsync(string appId, CancellationToken ct = default) =>
        CallAsync(appId, grain => grain.Describe(), ct);

    /// <summary>A writer for one map attempt of a shuffle the driver registered (UnknownShuffle otherwise).</summary>
    public async Task<ShuffleWriter> CreateWriterAsync(string appId, int shuffleId, int mapId, int attemptId, CancellationToken ct = default)
    {
        ValidateShuffle(appId, shuffleId);
        IdValidator.ValidateMapAttempt(mapId, attemptId);
        var key = new ShuffleKey(appId, shuffleId);
        var locations = await _locations.GetOrLoadAsync(key, LoadLocationsAsync, ct).ConfigureAwait(false);
        if (mapId >= locations.Spec.NumMaps)
            throw new GridException(GridErrorCode.InvalidId, $"Invalid map id {mapId}: {key} has {locations.Spec.NumMaps} maps.");
        return new ShuffleWriter(_transport, _options, appId, shuffleId, mapId, attemptId, locations.Locations);
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

        PartitionRef[] request = [.. partitions];
        string[] excluded = [.. excludedSilos];
        ThrowIfDisposed();
        IdValidator.ValidateAppId(appId);
        var reply = await _grains.CallAsync(appId, grain => grain.Revive(shuffleId, request, excluded), ct, _options.ControlAttemptTimeout).ConfigureAwait(false);
        var key = new ShuffleKey(appId, shuffleId);
        var revived = AlignRevived(key, reply, request);
        MergeRevived(key, revived);
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

    /// <summary>Closes the data connections. The Orleans client is the caller's and stays as it is.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _lifetime.Cancel();
        await _pool.DisposeAsync().ConfigureAwait(false);
    }

    internal void ForgetLocations(ShuffleKey key) => _locations.Remove(key);

    /// <summary>The cached file group, indexed by partition for readers.</summary>
    internal Task<IndexedFileGroup> GetIndexedFileGroupAsync(string appId, int shuffleId, CancellationToken ct)
    {
        ThrowIfDisposed();
        ValidateShuffle(appId, shuffleId);
        return _fileGroups.GetOrLoadAsync(new ShuffleKey(appId, shuffleId), key => LoadFileGroupAsync(key, _lifetime.Token), ct);
    }

    /// <summary>
    /// Asks the ShuffleGrain whether the shuffle still exists, bypassing the cache: UnknownShuffle or
    /// UnknownApplication when another client unregistered it (then the cached file group goes too).
    /// Readers ask this before they report data lost, so a deleted shuffle never reads as lost data.
    /// </summary>
    internal async Task ConfirmShuffleAsync(string appId, int shuffleId, CancellationToken ct)
    {
        var key = new ShuffleKey(appId, shuffleId);
        try
        {
            await CallAsync(appId, grain => grain.GetShuffleLocations(shuffleId), ct).ConfigureAwait(false);
        }
        catch (GridException e) when (e.Code is GridErrorCode.UnknownShuffle or GridErrorCode.UnknownApplication)
        {
            _fileGroups.Remove(key);
            ForgetLocations(key);
            throw;
        }
    }

    private async Task<ShuffleLocations> LoadLocationsAsync(ShuffleKey key) =>
        IndexByPartition(key, await CallAsync(key.AppId, grain => grain.GetShuffleLocations(key.ShuffleId), _lifetime.Token).ConfigureAwait(false));

    /// <summary>
    /// Waits for the commit in calls of at most <see cref="CommitWaitSlice"/>, each bounded here too: an
    /// Orleans client is not told when the silo hosting the grain dies, so a call parked there would
    /// otherwise hang until its response timeout. A call that overruns its bound counts as a lost silo
    /// and is repeated, reaching the grain's next activation.
    /// </summary>
    private async Task<IndexedFileGroup> LoadFileGroupAsync(ShuffleKey key, CancellationToken ct)
    {
        long started = Stopwatch.GetTimestamp();
        ReducerFileGroup group;
        // Bounded: every round but the last waits a slice, and the rounds stop at CommitWaitTimeout.
        while (true)
        {
            var wait = _options.CommitWaitTimeout - Stopwatch.GetElapsedTime(started);
            if (wait < TimeSpan.Zero) wait = TimeSpan.Zero;
            if (wait > CommitWaitSlice) wait = CommitWaitSlice;
            try
            {
                group = await CallAsync(key.AppId, grain => grain.GetReducerFileGroup(key.ShuffleId, wait, ct).WaitAsync(wait + CommitWaitGrace, ct), ct)
                    .ConfigureAwait(false);
                break;
            }
            catch (GridException e) when (e.Code == GridErrorCode.NotCommitted && Stopwatch.GetElapsedTime(started) < _options.CommitWaitTimeout)
            {
                // Not yet: ask again.
            }
        }
        foreach (var location in group.Locations)
        {
            foreach (var copy in location.Copies) copy.File.Validate();
        }
        return new IndexedFileGroup(group);
    }

    /// <summary>The longest wait of one file-group call; the grain caps it too (Applications:MaxCommitWait, 30 s by default).</summary>
    internal static readonly TimeSpan CommitWaitSlice = TimeSpan.FromSeconds(10);

    /// <summary>How much longer than its wait a file-group call may take before it counts as lost with its silo.</summary>
    internal static readonly TimeSpan CommitWaitGrace = TimeSpan.FromSeconds(10);

    private Task CallAsync(string appId, Func<GrainInterfaces.IShuffleGrain, Task> call, CancellationToken ct)
    {
        ThrowIfDisposed();
        IdValidator.ValidateAppId(appId);
        return _grains.CallAsync(appId, call, ct);
    }

    private Task<T> CallAsync<T>(string appId, Func<GrainInterfaces.IShuffleGrain, Task<T>> call, CancellationToken ct)
    {
        ThrowIfDisposed();
        IdValidator.ValidateAppId(appId);
        return _grains.CallAsync(appId, call, ct);
    }

    /// <summary>The locations ordered by partition id; a reply that does not name every partition exactly once is refused.</summary>
    private static ShuffleLocations IndexByPartition(ShuffleKey key, ShuffleLocations reply)
    {
        int partitions = reply.Spec.NumPartitions;
        if (reply.Locations.Count != partitions)
            throw new GridException(GridErrorCode.Internal, $"{key}: the ShuffleGrain returned {reply.Locations.Count} locations for {partitions} partitions.");
        var byPartition = new PartitionLocation[partitions];
        var seen = new bool[partitions];
        foreach (var location in reply.Locations)
        {
            int p = location.PartitionId;
            if (p < 0 || p >= partitions || seen[p])
                throw new GridException(GridErrorCode.Internal, $"{key}: the ShuffleGrain returned a bad or repeated location for partition {p}.");
            seen[p] = true;
            byPartition[p] = location;
        }
        return new ShuffleLocations(reply.Spec, byPartition);
    }

    /// <summary>The reply's locations in the order asked; each asked partition must be answered once, at a newer epoch.</summary>
    private static PartitionLocation[] AlignRevived(ShuffleKey key, IReadOnlyList<PartitionLocation> reply, IReadOnlyList<PartitionRef> request)
    {
        var byPartition = new Dictionary<int, PartitionLocation>(reply.Count);
        foreach (var location in reply)
        {
            if (!byPartition.TryAdd(location.PartitionId, location))
                throw new GridException(GridErrorCode.Internal, $"Revive of {key} returned partition {location.PartitionId} twice.");
        }
        var aligned = new PartitionLocation[request.Count];
        for (int i = 0; i < aligned.Length; i++)
        {
            var asked = request[i];
            if (!byPartition.TryGetValue(asked.PartitionId, out var location))
                throw new GridException(GridErrorCode.Internal, $"Revive of {key} returned no location for partition {asked.PartitionId}.");
            if (location.Epoch <= asked.Epoch)
            {
                throw new GridException(GridErrorCode.Internal,
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
                if (p >= cached.Locations.Count || cached.Locations[p].Epoch >= location.Epoch) continue;
                merged ??= [.. cached.Locations];
                merged[p] = location;
            }
            // A fresh list: writers created before hold the old one and never see it change.
            if (merged is not null) _locations.Set(key, cached with { Locations = merged });
        }
    }

    private static void ValidateShuffle(string appId, int shuffleId)
    {
        IdValidator.ValidateAppId(appId);
        IdValidator.ValidateShuffleId(shuffleId);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
