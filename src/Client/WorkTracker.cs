namespace Orleans.Shuffle.Client;

/// <summary>
/// Counts a writer's background work (pushes, resends, split revives), so closing can wait until
/// every batch is acknowledged. Work is entered before it is started, and a job that hands its
/// batches to new jobs enters them before it exits itself, so the count never drops to zero early.
/// </summary>
internal sealed class WorkTracker
{
    private readonly Lock _lock = new();
    private int _count;
    private TaskCompletionSource? _idle;

    public int Count
    {
        get
        {
            lock (_lock) return _count;
        }
    }

    public void Enter()
    {
        lock (_lock) _count++;
    }

    public void Exit()
    {
        TaskCompletionSource? idle = null;
        lock (_lock)
        {
            if (--_count == 0)
            {
                idle = _idle;
                _idle = null;
            }
        }
        idle?.TrySetResult();
    }

    /// <summary>Completes when no work is left (at once if there is none).</summary>
    public Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_count == 0) return Task.CompletedTask;
            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task.WaitAsync(cancellationToken);
        }
    }
}
