namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// Counts bytes of pushed data held in memory, waiting for disk. Above the limit, push readers
/// pause (they stop reading their sockets, so TCP slows the writers); they resume below 70 %.
/// This is Celeborn's pause/resume watermark, without which a slow disk grows memory unbounded.
/// </summary>
public sealed class MemoryBudget(long limitBytes)
{
    private readonly long _resumeBytes = limitBytes * 7 / 10;
    private readonly object _gate = new();
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

    public void Add(long bytes) => Interlocked.Add(ref _used, bytes);

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
