namespace Orleans.Shuffle.Client;

/// <summary>
/// Sends an application heartbeat every interval until disposed (or the client is disposed). A
/// failed beat is kept in <see cref="LastError"/> and the loop goes on: one lost heartbeat must
/// not stop the next, and the silo only expires an application after several are missed.
/// </summary>
internal sealed class HeartbeatLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;
    private int _disposed;

    public HeartbeatLoop(Func<CancellationToken, Task> beat, TimeSpan interval, CancellationToken clientLifetime)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(clientLifetime);
        _loop = Task.Run(() => RunAsync(beat, interval, _stop.Token), CancellationToken.None);
    }

    public Exception? LastError { get; private set; }

    public long Beats { get; private set; }

    // The loop ends when the token is cancelled, which DisposeAsync and client disposal both do.
    private async Task RunAsync(Func<CancellationToken, Task> beat, TimeSpan interval, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                try
                {
                    await beat(stop).ConfigureAwait(false);
                    Beats++;
                    LastError = null;
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    LastError = e;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
