using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>The state of one grid connection: handshake, peer, reply writer and background requests.</summary>
internal sealed class GridSession(string connectionId, string? remote, ConnectionResponder responder, CancellationToken closing)
{
    /// <summary>Fires when the connection closes or the silo stops: waits on its behalf end then.</summary>
    public CancellationToken Closing { get; } = closing;

    private int _background;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closing;

    public string ConnectionId { get; } = connectionId;

    public string? Remote { get; } = remote;

    public ConnectionResponder Responder { get; } = responder;

    public bool Handshaken { get; set; }

    /// <summary>The random challenge of this connection's HelloOk, which Authenticate proves a key over; empty when nothing is checked.</summary>
    public byte[] Challenge { get; set; } = [];

    /// <summary>The peer proved the cluster secret: a member silo.</summary>
    public bool IsMember { get; set; }

    // Applications this connection proved, with the key each proof matched; read and written by its
    // read loop only. Usually one.
    private string? _application;
    private byte[]? _applicationKey;
    private Dictionary<string, byte[]>? _moreApplications;

    public void AuthorizeApplication(string appId, byte[] key)
    {
        if (_application is null || _application == appId) (_application, _applicationKey) = (appId, key);
        else (_moreApplications ??= new Dictionary<string, byte[]>(StringComparer.Ordinal))[appId] = key;
    }

    /// <summary>The key this connection proved for <paramref name="appId"/>, or null.</summary>
    public byte[]? ProvedKey(string appId) =>
        _application == appId ? _applicationKey : _moreApplications?.GetValueOrDefault(appId);

    /// <summary>Pushes of this connection waiting for their replicas; bounded so a slow replica slows this pusher down.</summary>
    public SemaphoreSlim ReplicationSlots { get; } = new(MaxReplicationsInFlight, MaxReplicationsInFlight);

    public const int MaxReplicationsInFlight = 32;

    public string PeerName { get; set; } = "";

    /// <summary>App ids of this connection's pushes, read by its read loop only (pushes are handled inline there).</summary>
    public Utf8StringCache AppIds { get; } = new();

    public string? CloseReason { get; set; }

    /// <summary>Requests of this connection still running in the background (their replies are due).</summary>
    public bool HasRequestsInFlight => Volatile.Read(ref _background) > 0;

    /// <summary>Runs a request in the background, so one slow request does not hold up the connection.</summary>
    public void RunInBackground(Func<Task> request)
    {
        Interlocked.Increment(ref _background);
        _ = Task.Run(async () =>
        {
            try
            {
                await request().ConfigureAwait(false);
            }
            finally
            {
                if (Interlocked.Decrement(ref _background) == 0 && Volatile.Read(ref _closing)) _idle.TrySetResult();
            }
        });
    }

    public async Task WaitForBackgroundRequestsAsync(TimeSpan timeout)
    {
        Volatile.Write(ref _closing, true);
        if (Volatile.Read(ref _background) == 0) return;
        try { await _idle.Task.WaitAsync(timeout).ConfigureAwait(false); } catch (TimeoutException) { }
    }
}
