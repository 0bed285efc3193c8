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
    private readonly Stack<byte[]> _free = new();
    private long _freeBytes;
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
    public long RetainedBytes { get { lock (_gate) return _freeBytes; } }

    public void Add(long bytes) => Interlocked.Add(ref _used, bytes);

    /// <summary>
    /// A buffer of at least <paramref name="length"/> bytes, counted as used until
    /// <see cref="ReturnBuffer"/>. Kept buffers are of the flush size; a larger request (a batch
    /// bigger than a flush buffer) gets an array of its own, which is not kept.
    /// </summary>
    public byte[] RentBuffer(int length)
    {
        byte[]? buffer = null;
        lock (_gate)
        {
            if (_free.TryPeek(out var kept) && kept.Length >= length && kept.Length / 2 < length)
            {
                buffer = _free.Pop();
                _freeBytes -= buffer.Length;
            }
        }
        buffer ??= GC.AllocateUninitializedArray<byte>(length);
        Add(buffer.Length);
        return buffer;
    }

    /// <summary>Stops counting <paramref name="buffer"/> and keeps it for the next <see cref="RentBuffer"/>, while kept buffers stay under the limit.</summary>
    public void ReturnBuffer(byte[] buffer)
    {
        lock (_gate)
        {
            bool sameSize = !_free.TryPeek(out var kept) || kept.Length == buffer.Length;
            if (sameSize && _freeBytes + buffer.Length <= LimitBytes)
            {
                _free.Push(buffer);
                _freeBytes += buffer.Length;
            }
        }
        Release(buffer.Length);
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
