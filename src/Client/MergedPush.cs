using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Sealed batches bound for one silo, sent as one PushData. It owns their pooled arrays and
/// returns them to the writer's recycler when disposed, after the push succeeded or failed for good.
/// <para>
/// It is also the thread-pool work item that runs its own push (<see cref="Start"/>), and it comes
/// from a <see cref="MergedPushPool"/>: the object, its batch list and its sequence segments are
/// reused, so a push allocates nothing of its own. It goes back to the pool only once the push's
/// run has completed and its result was taken, never while the run may still touch it.
/// </para>
/// </summary>
internal sealed class MergedPush : IThreadPoolWorkItem, IDisposable
{
    private readonly BufferRecycler _recycler;
    private readonly MergedPushPool? _pool;
    private readonly List<SealedBatch> _batches = new(4);
    private readonly List<BufferSegment> _segments = [];
    private readonly Action _runCompleted;
    private Func<MergedPush, ValueTask>? _run;
    private ValueTask _running;
    private int _disposed;

    public MergedPush(BufferRecycler recycler, MergedPushPool? pool = null)
    {
        _recycler = recycler;
        _pool = pool;
        _runCompleted = OnRunCompleted;
    }

    /// <summary>Bytes of all entries, headers included.</summary>
    public int Bytes { get; private set; }

    public int Count => _batches.Count;

    public IReadOnlyList<SealedBatch> Batches => _batches;

    /// <summary>The silo the running push goes to; set by <see cref="Start"/>.</summary>
    public SiloPushTarget? Target { get; private set; }

    /// <summary>Whether the running push already holds a slot of <see cref="Target"/>.</summary>
    public bool HoldsSlot { get; private set; }

    public void Add(SealedBatch batch)
    {
        _batches.Add(batch);
        Bytes += batch.Length;
    }

    /// <summary>The entries as one sequence over the batches' own arrays (no copy), on segments this push keeps.</summary>
    public ReadOnlySequence<byte> Entries()
    {
        if (_batches.Count == 0) return ReadOnlySequence<byte>.Empty;
        if (_batches.Count == 1) return new ReadOnlySequence<byte>(_batches[0].Entry);
        BufferSegment? last = null;
        for (int i = 0; i < _batches.Count; i++)
        {
            if (i == _segments.Count) _segments.Add(new BufferSegment(ReadOnlyMemory<byte>.Empty));
            _segments[i].Reset(_batches[i].Entry, last);
            last = _segments[i];
        }
        return new ReadOnlySequence<byte>(_segments[0], 0, last!, last!.Memory.Length);
    }

    public PushDataBody ToBody(string appId, int shuffleId) => new(appId, shuffleId, _batches.Count, Entries());

    /// <summary>
    /// Runs <paramref name="run"/> for this push on the thread pool (without flowing the caller's
    /// execution context, which a push does not use), then returns the push to its pool.
    /// </summary>
    public void Start(SiloPushTarget target, bool holdsSlot, Func<MergedPush, ValueTask> run)
    {
        Target = target;
        HoldsSlot = holdsSlot;
        _run = run;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        _running = _run!(this);
        if (_running.IsCompleted) OnRunCompleted();
        else _running.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_runCompleted);
    }

    private void OnRunCompleted()
    {
        var running = _running;
        _running = default;
        _run = null;
        Target = null;
        try
        {
            // Taking the result hands a pooled run back to its pool. The run reports its own failures.
            running.GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // As with a discarded task: nobody is left to tell.
        }
        _pool?.Return(this);
    }

    /// <summary>The batches were added to other pushes, which own their buffers now: forget them without returning them.</summary>
    public void Forget()
    {
        _batches.Clear();
        Bytes = 0;
    }

    /// <summary>Makes a pooled push empty and usable again.</summary>
    internal void Reuse()
    {
        Forget();
        Volatile.Write(ref _disposed, 0);
    }

    /// <summary>Returns the batches' buffers (once). The push object itself goes back to its pool when its run completes.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var batch in _batches) _recycler.Return(batch.Buffer);
        Forget();
        // Segments must not keep the returned arrays reachable through their memory.
        foreach (var segment in _segments) segment.Reset(ReadOnlyMemory<byte>.Empty, null);
    }
}
