namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Bytes of frames larger than the receive pipe that the silo holds at once, all connections
/// together (DataEndpoint:MaxLargeFrameBytes). A connection reserves a large frame's whole length
/// before it reads the frame's body, and returns it when the frame was handled. Whole frames, not
/// pieces as they arrive: connections that each held part of a frame and waited for budget to
/// finish it would wait on each other forever. A connection waiting for budget reads nothing, so
/// TCP holds its sender back. Waiters are served first come, first served, so a large frame is not
/// starved by smaller ones; each waits at most until its connection's frame deadline.
/// </summary>
internal sealed class LargeFrameBudget(long limitBytes)
{
    private readonly object _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _used;
    private long _refused;

    public long LimitBytes { get; } = limitBytes;

    public long UsedBytes { get { lock (_gate) return _used; } }

    /// <summary>Connections currently waiting for budget.</summary>
    public int Waiting { get { lock (_gate) return _waiters.Count; } }

    /// <summary>Reservations given up because their deadline passed first.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Reserves <paramref name="bytes"/>: completes true at once when they fit and nobody waits
    /// before, true later when releases make room, false when <paramref name="cancellation"/> fires
    /// first (nothing is then reserved).
    /// </summary>
    public ValueTask<bool> ReserveAsync(long bytes, CancellationToken cancellation)
    {
        if (bytes > LimitBytes) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"A frame of {bytes} bytes can never fit a budget of {LimitBytes}.");
        Waiter waiter;
        lock (_gate)
        {
            if (_waiters.Count == 0 && _used + bytes <= LimitBytes)
            {
                _used += bytes;
                return ValueTask.FromResult(true);
            }
            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }
        return WaitAsync(waiter, cancellation);
    }

    /// <summary>
    /// Waits for a queued reservation. The registration is made and disposed here, by the waiter's
    /// own task: a release that grants the waiter before it is registered finds nothing to undo, and a
    /// token already cancelled gives up at once.
    /// </summary>
    private async ValueTask<bool> WaitAsync(Waiter waiter, CancellationToken cancellation)
    {
        using var registration = cancellation.UnsafeRegister(static state =>
        {
            var (budget, waiter) = ((LargeFrameBudget, Waiter))state!;
            budget.GiveUp(waiter);
        }, (this, waiter));
        return await waiter.Granted.Task.ConfigureAwait(false);
    }

    public void Release(long bytes)
    {
        List<Waiter>? granted = null;
        lock (_gate)
        {
            _used -= bytes;
            if (_used < 0) throw new InvalidOperationException($"Released {bytes} bytes more than were reserved.");
            // Bounded by the waiters: each round grants the first one or stops.
            while (_waiters.First is { } first && _used + first.Value.Bytes <= LimitBytes)
            {
                _used += first.Value.Bytes;
                _waiters.RemoveFirst();
                first.Value.Node = null;
                (granted ??= []).Add(first.Value);
            }
        }
        // Outside the lock: a waiter's continuation runs asynchronously, but completing it is no work to hold the lock for.
        if (granted is null) return;
        foreach (var waiter in granted) waiter.Granted.TrySetResult(true);
    }

    private void GiveUp(Waiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Node is null) return; // granted just before
            _waiters.Remove(waiter.Node);
            waiter.Node = null;
        }
        Interlocked.Increment(ref _refused);
        waiter.Granted.TrySetResult(false);
        // The first waiter may have been the one blocking the others.
        Release(0);
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;

        public TaskCompletionSource<bool> Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }
}
