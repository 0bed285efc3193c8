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
/// it allocates nothing). Time the loop spends handling a frame does not count: a push held up by
/// the silo's own back-pressure is not the peer's fault, so <see cref="Pause"/> stops the clock and
/// <see cref="Resume"/> gives back the time that was left. An idle deadline that finds requests still
/// in flight (their replies are what the peer waits for) starts again instead of closing the
/// connection. The deadline is a timestamp under a lock: a timer firing late, or racing an
/// <see cref="Arm"/>, checks it and does nothing unless it really passed.
/// </summary>
internal sealed class ConnectionDeadline : IDisposable
{
    private readonly CancellationTokenSource _expired = new();
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Func<bool> _requestsInFlight;
    private readonly Lock _lock = new();
    private TimeSpan _idleTimeout;
    private DeadlineKind _kind;
    private long _deadline = long.MaxValue;
    private TimeSpan _leftWhenPaused;
    private bool _paused;

    public ConnectionDeadline(TimeProvider time, Func<bool> requestsInFlight)
    {
        _time = time;
        _requestsInFlight = requestsInFlight;
        _timer = time.CreateTimer(static state => ((ConnectionDeadline)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Cancelled once the deadline passed; the connection is then closed.</summary>
    public CancellationToken Expired => _expired.Token;

    /// <summary>What was awaited when the deadline passed (valid once <see cref="Expired"/> fired).</summary>
    public DeadlineKind Kind
    {
        get
        {
            lock (_lock) return _kind;
        }
    }

    /// <summary>The deadline is now <paramref name="timeout"/> away, for <paramref name="kind"/>.</summary>
    public void Arm(DeadlineKind kind, TimeSpan timeout)
    {
        lock (_lock)
        {
            _kind = kind;
            if (kind == DeadlineKind.Idle) _idleTimeout = timeout;
            if (_paused)
            {
                _leftWhenPaused = timeout;
                return;
            }
            Start(timeout);
        }
    }

    /// <summary>The loop is handling a frame: the clock stops until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_lock)
        {
            if (_paused) return;
            _paused = true;
            _leftWhenPaused = _deadline == long.MaxValue ? Timeout.InfiniteTimeSpan : _time.GetElapsedTime(_time.GetTimestamp(), _deadline);
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The clock runs again with the time that was left when it stopped.</summary>
    public void Resume()
    {
        lock (_lock)
        {
            if (!_paused) return;
            _paused = false;
            Start(_leftWhenPaused);
        }
    }

    private void Start(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            _deadline = long.MaxValue;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        if (timeout < TimeSpan.Zero) timeout = TimeSpan.Zero;
        _deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        _timer.Change(timeout, Timeout.InfiniteTimeSpan);
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (_paused || _expired.IsCancellationRequested) return;
            long now = _time.GetTimestamp();
            if (now < _deadline)
            {
                // Early, or for a deadline moved meanwhile: wait for the rest.
                _timer.Change(_time.GetElapsedTime(now, _deadline), Timeout.InfiniteTimeSpan);
                return;
            }
            if (_kind == DeadlineKind.Idle && _requestsInFlight())
            {
                Start(_idleTimeout);
                return;
            }
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
        lock (_lock) _timer.Dispose();
        _expired.Dispose();
    }
}
