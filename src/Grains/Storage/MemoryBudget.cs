using System.Numerics;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// Counts bytes of pushed data held in memory, waiting for disk. Above the limit, push readers
/// pause (they stop reading their sockets, so TCP slows the writers); they resume below 70 %.
/// This is Celeborn's pause/resume watermark, without which a slow disk grows memory unbounded.
/// The budget also owns the buffers it counts (<see cref="RentBuffer"/>): they are kept for reuse,
/// at most the limit's worth, instead of going back to the GC. Freshly allocated large arrays on
/// every flush would be garbage on the large object heap, which only full collections reclaim, so
/// the heap would grow with the data rather than with the limit.
/// </summary>
public sealed class MemoryBudget(long limitBytes)
{
    private readonly long _resumeBytes = limitBytes * 7 / 10;
    private readonly object _gate = new();
    private readonly Dictionary<int, Stack<byte[]>> _free = [];
    private long _freeBytes;
    private int _largestPooledSize;
    private long _used;
    private TaskCompletionSource? _resumed;

    public long LimitBytes { get; } = limitBytes;

    public long UsedBytes => Interlocked.Read(ref _used);

    public bool IsPaused => UsedBytes >= LimitBytes;

    public long PauseCount { get; private set; }

    /// <summary>
    /// Called when receiving pauses: hands partly filled buffers to the disks, so that memory held by
    /// many small partitions drains too (only flushes release budget). Set by the partition catalog.
    /// </summary>
    public Action? Trim { get; set; }

    /// <summary>Bytes of buffers kept for reuse, not counted as used.</summary>
    public long KeptBytes { get { lock (_gate) return _freeBytes; } }

    public void Add(long bytes) => Interlocked.Add(ref _used, bytes);

    /// <summary>
    /// A buffer of at least <paramref name="length"/> bytes (its length rounded up to a power of
    /// two, so that buffers of the few sizes partition files ask for are interchangeable; exactly
    /// <paramref name="length"/> when <paramref name="exact"/>), counted as used until <see cref="ReturnBuffer"/>.
    /// </summary>
    public byte[] RentBuffer(int length, bool exact = false)
    {
        // An exact length (a batch larger than any flush buffer) is never kept: it would not be asked for again.
        if (exact)
        {
            Add(length);
            return GC.AllocateUninitializedArray<byte>(length);
        }
        int size = (int)Math.Min(BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, 1)), Array.MaxLength);
        byte[]? buffer = null;
        lock (_gate)
        {
            if (_free.TryGetValue(size, out var kept) && kept.TryPop(out buffer)) _freeBytes -= size;
            _largestPooledSize = Math.Max(_largestPooledSize, size);
        }
        buffer ??= GC.AllocateUninitializedArray<byte>(size);
        Add(buffer.Length);
        return buffer;
    }

    /// <summary>
    /// Stops counting <paramref name="buffer"/> and keeps it for the next <see cref="RentBuffer"/> of
    /// its size, while the kept buffers stay within the limit, even when the budget is over its limit.
    /// So a silo holds at most the limit in use (plus the pushes in flight when it paused) and the
    /// limit kept. Counting kept and used together against the limit (tried first) dropped buffers
    /// exactly when the budget was busiest. Each one dropped was large-object-heap garbage that no
    /// full collection came for during a job, and the next rent allocated anew. In a 16 GiB job a
    /// silo's large object heap grew to 290 MiB (bench/README.md, "Memory").
    /// </summary>
    public void ReturnBuffer(byte[] buffer)
    {
        lock (_gate)
        {
            // Only sizes RentBuffer hands out are kept: an exact buffer is never asked for again, even when its length is a power of two.
            if (BitOperations.IsPow2(buffer.Length) && buffer.Length <= _largestPooledSize && MakeRoomFor(buffer.Length))
            {
                if (!_free.TryGetValue(buffer.Length, out var kept)) _free[buffer.Length] = kept = new Stack<byte[]>();
                kept.Push(buffer);
                _freeBytes += buffer.Length;
            }
        }
        Release(buffer.Length);
    }

    /// <summary>
    /// Whether a buffer of <paramref name="size"/> fits the kept set, after letting the GC have kept
    /// buffers of other sizes: the size coming back is the one in use now. Nothing is let go when
    /// letting go of every other size would not make room. Under the gate.
    /// </summary>
    private bool MakeRoomFor(int size)
    {
        long excess = _freeBytes + size - LimitBytes;
        if (excess <= 0) return true;
        long sameSize = _free.TryGetValue(size, out var same) ? (long)same.Count * size : 0;
        if (_freeBytes - sameSize < excess) return false;
        foreach (var (length, kept) in _free)
        {
            // Bounded: each round lets one buffer go, and there are enough of them.
            while (length != size && excess > 0 && kept.TryPop(out _))
            {
                _freeBytes -= length;
                excess -= length;
            }
            if (excess <= 0) break;
        }
        return true;
    }

    /// <summary>Lets the GC have every kept buffer (the silo went idle); returns their bytes.</summary>
    public long ReleaseKeptBuffers()
    {
        lock (_gate)
        {
            long released = _freeBytes;
            _free.Clear();
            _freeBytes = 0;
            return released;
        }
    }

    public void Release(long bytes)
    {
        long used = Interlocked.Add(ref _used, -bytes);
        if (used >= _resumeBytes) return;
        TaskCompletionSource? resumed;
        lock (_gate)
        {
            resumed = _resumed;
            _resumed = null;
        }
        resumed?.TrySetResult();
    }

    /// <summary>Completes at once unless paused; then when usage falls below the resume mark.</summary>
    public ValueTask WaitUntilAcceptingAsync(CancellationToken cancellationToken)
    {
        if (!IsPaused) return ValueTask.CompletedTask;
        Task resumed;
        bool trim;
        lock (_gate)
        {
            if (UsedBytes < _resumeBytes) return ValueTask.CompletedTask;
            PauseCount++;
            trim = _resumed is null;
            _resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            resumed = _resumed.Task;
        }
        if (trim) Trim?.Invoke();
        return new ValueTask(resumed.WaitAsync(cancellationToken));
    }
}
