using System.Diagnostics;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Holds the client's latest <see cref="ClusterView"/> and refreshes it from a gateway. The
/// gateway that answered last is asked first, then the gateways the <see cref="IGatewayListProvider"/>
/// listed last (if there is one), the configured gateways, and the active silos of the last view, so a
/// client outlives its first gateway. The provider is asked when the client connects, every
/// <see cref="IGatewayListProvider.RefreshPeriod"/> (see <see cref="GridClient"/>), and again when no
/// known gateway answers, so a client follows silos leaving and new ones joining.
/// </summary>
internal sealed class ClusterViewProvider
{
    /// <summary>Least time between two provider reads caused by failures: a grid that is down costs the table one read a second per client, not one per retry.</summary>
    internal static readonly TimeSpan MinFailureListRefreshInterval = TimeSpan.FromSeconds(1);

    private readonly ConnectionPool _pool;
    private readonly IReadOnlyList<GatewayEndpoint> _configured;
    private readonly IGatewayListProvider? _provider;
    private readonly CancellationToken _lifetime;
    private readonly Lock _listLock = new();
    private ClusterView _current = new(0, []);
    private GatewayEndpoint _preferredGateway;
    private IReadOnlyList<GatewayEndpoint> _listed = [];
    private Task<IReadOnlyList<GatewayEndpoint>>? _listFetch;
    private long _listFetchStarted;
    private string? _listError;
    private long _listReads;

    /// <param name="configured">GridClientOptions.Gateways, parsed; may be empty when there is a provider.</param>
    /// <param name="lifetime">The client's lifetime: cancels a provider read in progress when the client is disposed.</param>
    public ClusterViewProvider(ConnectionPool pool, IReadOnlyList<GatewayEndpoint> configured, IGatewayListProvider? provider = null, CancellationToken lifetime = default)
    {
        if (configured.Count == 0 && provider is null)
            throw new ArgumentException("Give at least one gateway or a gateway list provider.", nameof(configured));
        _pool = pool;
        _configured = configured;
        _provider = provider;
        _lifetime = lifetime;
        _preferredGateway = configured.Count > 0 ? configured[0] : default;
    }

    public ClusterView Current => Volatile.Read(ref _current);

    /// <summary>The gateway that answered last: where requests go when placement has no answer.</summary>
    public GatewayEndpoint PreferredGateway => _preferredGateway;

    /// <summary>What the provider listed at its last successful read (empty without a provider).</summary>
    public IReadOnlyList<GatewayEndpoint> ListedGateways => Volatile.Read(ref _listed);

    /// <summary>Successful reads of the provider so far.</summary>
    public long GatewayListReads => Interlocked.Read(ref _listReads);

    public async Task<ClusterView> RefreshAsync(CancellationToken cancellationToken)
    {
        // The first refresh (connecting) reads the list; later ones use what the periodic read left.
        bool listedNow = false;
        if (_provider is not null && Volatile.Read(ref _listFetchStarted) == 0)
        {
            await RefreshGatewayListAsync(cancellationToken).ConfigureAwait(false);
            listedNow = true;
        }

        var tried = new HashSet<GatewayEndpoint>();
        var errors = new List<string>();
        var view = await TryCandidatesAsync(tried, errors, cancellationToken).ConfigureAwait(false);
        if (view is not null) return view;

        // Every gateway known failed: the silos may have been replaced. Ask the provider for the
        // current ones (unless it was just asked) and try those not tried yet.
        if (_provider is not null && !listedNow && ListAge() >= MinFailureListRefreshInterval)
        {
            await RefreshGatewayListAsync(cancellationToken).ConfigureAwait(false);
            view = await TryCandidatesAsync(tried, errors, cancellationToken).ConfigureAwait(false);
            if (view is not null) return view;
        }

        string listed = _provider is null ? ""
            : Volatile.Read(ref _listError) is { } listError ? $" The gateway list provider failed: {listError}"
            : ListedGateways.Count == 0 ? " The gateway list provider lists no Active silo." : "";
        if (tried.Count == 0)
            throw new GridException(ErrorCode.SiloUnavailable, "No gateway to ask for the cluster view: GridClientOptions.Gateways is empty." + listed);
        throw new GridException(ErrorCode.SiloUnavailable,
            $"No gateway answered GetClusterView ({tried.Count} tried): {string.Join("; ", errors)}.{listed}");
    }

    /// <summary>
    /// Reads the provider's list now (joining a read already in progress). Returns false, keeping the
    /// previous list, if the provider failed; its error is reported when no gateway answers.
    /// </summary>
    public async Task<bool> RefreshGatewayListAsync(CancellationToken cancellationToken)
    {
        if (_provider is null) return false;
        Task<IReadOnlyList<GatewayEndpoint>> fetch;
        lock (_listLock)
        {
            if (_listFetch is null || _listFetch.IsCompleted)
            {
                Volatile.Write(ref _listFetchStarted, Math.Max(1, Stopwatch.GetTimestamp()));
                _listFetch = FetchListAsync(_provider);
            }
            fetch = _listFetch;
        }
        try
        {
            await fetch.WaitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<IReadOnlyList<GatewayEndpoint>> FetchListAsync(IGatewayListProvider provider)
    {
        try
        {
            var texts = await provider.GetGatewaysAsync(_lifetime).ConfigureAwait(false)
                ?? throw new InvalidOperationException("the provider returned null");
            var parsed = new List<GatewayEndpoint>(texts.Count);
            var bad = new List<string>();
            foreach (string text in texts)
            {
                if (GatewayEndpoint.TryParse(text, out var endpoint, out string? error))
                {
                    if (!parsed.Contains(endpoint)) parsed.Add(endpoint);
                }
                else
                {
                    bad.Add(error);
                }
            }
            if (parsed.Count == 0 && bad.Count > 0) throw new FormatException(string.Join("; ", bad));
            Volatile.Write(ref _listed, parsed);
            Volatile.Write(ref _listError, null);
            Interlocked.Increment(ref _listReads);
            return parsed;
        }
        catch (Exception e)
        {
            Volatile.Write(ref _listError, $"{e.GetType().Name}: {e.Message}");
            throw;
        }
    }

    private TimeSpan ListAge()
    {
        long started = Volatile.Read(ref _listFetchStarted);
        return started == 0 ? TimeSpan.MaxValue : Stopwatch.GetElapsedTime(started);
    }

    private async Task<ClusterView?> TryCandidatesAsync(HashSet<GatewayEndpoint> tried, List<string> errors, CancellationToken cancellationToken)
    {
        foreach (var candidate in Candidates())
        {
            if (!tried.Add(candidate)) continue;
            try
            {
                var connection = await _pool.GetAsync(candidate.Host, candidate.Port, cancellationToken).ConfigureAwait(false);
                using var reply = await connection.SendAsync(MessageType.GetClusterView, new Empty(), cancellationToken).ConfigureAwait(false);
                var view = reply.Read<ClusterView>();
                Volatile.Write(ref _current, view);
                _preferredGateway = candidate;
                return view;
            }
            catch (GridException e)
            {
                // Any answer but a view means "ask someone else"; all of them are reported if nobody answers.
                errors.Add($"{candidate}: {e.Code}: {e.Message}");
            }
        }
        return null;
    }

    /// <summary>
    /// The preferred gateway (unless the provider's last list no longer names it), the provider's list,
    /// the configured gateways, the preferred gateway after all, then the active silos of the last view;
    /// no endpoint twice.
    /// </summary>
    private List<GatewayEndpoint> Candidates()
    {
        var seen = new HashSet<GatewayEndpoint>();
        var list = new List<GatewayEndpoint>();
        void Add(GatewayEndpoint endpoint)
        {
            if (endpoint.Host is not null && seen.Add(endpoint)) list.Add(endpoint);
        }

        var listed = ListedGateways;
        if (listed.Count == 0 || listed.Contains(_preferredGateway)) Add(_preferredGateway);
        foreach (var gateway in listed) Add(gateway);
        foreach (var gateway in _configured) Add(gateway);
        Add(_preferredGateway);
        foreach (var silo in Current.Active) Add(new GatewayEndpoint(silo.Host, silo.Port));
        return list;
    }
}
