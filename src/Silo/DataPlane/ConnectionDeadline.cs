namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>What a connection's read loop is waiting for when its deadline passes.</summary>
internal enum DeadlineKind
{
    /// <summary>The Hello, since the connection was accepted (DataEndpoint:HandshakeTimeout).</summary>
    Handshake,

    /// <summary>The next frame, with nothing in flight (DataEndpoint:IdleTimeout).</summary>
    Idle,

    /// <summary>The rest of a frame already begun, and the budget to hold it (DataEndpoint:FrameReadTimeout).</summary>
    Frame,
}

/// <summary>
/// The one deadline of a connection's read loop, on one timer made once per connection (re-arming
/// it per frame allocates nothing). Time the loop spends handling a frame does not count: a push
/// held up by the silo's own back-pressure is not the peer's fault, so the timer is ignored while
/// <see cref="Pause"/> holds. An idle deadline that finds requests still in flight (their replies
/// are what the peer waits for) starts again instead of closing the connection.
/// </summary>
internal sealed class ConnectionDeadline : IDisposable
{
    private readonly CancellationTokenSource _expired = new();
    private readonly ITimer _timer;
    private readonly Func<bool> _requestsInFlight;
    private TimeSpan _idleTimeout;
    private volatile bool _paused;
    private volatile int _kind;

    public ConnectionDeadline(TimeProvider time, Func<bool> requestsInFlight)
    {
        _requestsInFlight = requestsInFlight;
        _timer = time.CreateTimer(static state => ((ConnectionDeadline)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Cancelled once the deadline passed; the connection is then closed.</summary>
    public CancellationToken Expired => _expired.Token;

    /// <summary>What was awaited when the deadline passed (valid once <see cref="Expired"/> fired).</summary>
    public DeadlineKind Kind => (DeadlineKind)_kind;

    /// <summary>The deadline is now <paramref name="timeout"/> away, for <paramref name="kind"/>.</summary>
    public void Arm(DeadlineKind kind, TimeSpan timeout)
    {
        _kind = (int)kind;
        if (kind == DeadlineKind.Idle) _idleTimeout = timeout;
        _timer.Change(timeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The loop is handling a frame: a deadline passing now is ignored (the loop arms a new one after).</summary>
    public void Pause() => _paused = true;

    public void Resume() => _paused = false;

    private void OnTimer()
    {
        if (_paused) return;
        if (Kind == DeadlineKind.Idle && _requestsInFlight())
        {
            _timer.Change(_idleTimeout, Timeout.InfiniteTimeSpan);
            return;
        }
        try
        {
            _expired.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection closed as the timer fired.
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        _expired.Dispose();
    }
}
