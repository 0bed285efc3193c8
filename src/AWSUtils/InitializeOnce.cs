namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// Runs an initialization once for all callers; a failed or cancelled run is forgotten, so the next
/// call tries again (a table that was unreachable at start-up may be reachable later).
/// </summary>
public sealed class InitializeOnce(Func<CancellationToken, Task> run)
{
    private readonly Lock _lock = new();
    private Task? _task;

    public bool Succeeded => _task is { IsCompletedSuccessfully: true };

    public Task RunAsync(CancellationToken cancellationToken)
    {
        if (Succeeded) return Task.CompletedTask;
        lock (_lock)
        {
            if (_task is null || _task.IsFaulted || _task.IsCanceled) _task = run(cancellationToken);
            return _task;
        }
    }
}
