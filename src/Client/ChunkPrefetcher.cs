namespace Orleans.Shuffle.Client;

/// <summary>
/// Keeps up to a fixed number of chunk fetches in flight while handing chunks out strictly in plan
/// order. While the reader works on one chunk, the next ones are already on their way.
/// </summary>
internal sealed class ChunkPrefetcher(
    IReadOnlyList<ChunkRef> plan, int depth, Func<ChunkRef, CancellationToken, Task<FetchedChunk>> fetch, CancellationToken cancellationToken)
    : IAsyncDisposable
{
    private readonly Queue<Task<FetchedChunk>> _inFlight = new();
    private readonly CancellationTokenSource _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    private int _nextToStart;

    /// <summary>The next chunk of the plan; the caller owns it and disposes it.</summary>
    public async Task<FetchedChunk> NextAsync()
    {
        TopUp();
        if (!_inFlight.TryDequeue(out var head)) throw new InvalidOperationException("Every chunk of the plan was already read.");
        var chunk = await head.ConfigureAwait(false);
        // Refill right away, so `depth` fetches run while the caller reads this chunk.
        TopUp();
        return chunk;
    }

    private void TopUp()
    {
        // Bounded by depth and by the plan's length.
        while (_inFlight.Count < depth && _nextToStart < plan.Count)
        {
            _inFlight.Enqueue(fetch(plan[_nextToStart++], _cancel.Token));
        }
    }

    /// <summary>Cancels fetches the reader will not read (it stopped early or failed) and frees their buffers.</summary>
    public async ValueTask DisposeAsync()
    {
        _cancel.Cancel();
        while (_inFlight.TryDequeue(out var task))
        {
            try
            {
                (await task.ConfigureAwait(false)).Dispose();
            }
            catch (Exception)
            {
                // A fetch nobody reads may fail or be cancelled; its error has no one to go to.
            }
        }
        _cancel.Dispose();
    }
}
