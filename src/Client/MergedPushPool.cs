using System.Collections.Concurrent;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A writer's free list of <see cref="MergedPush"/> objects: the writer's thread rents one to fill,
/// and a push's completion (any thread) returns it. Bounded like the writer's buffers: pushes beyond
/// <paramref name="capacity"/> are left to the collector.
/// </summary>
internal sealed class MergedPushPool(BufferRecycler recycler, int capacity)
{
    private readonly ConcurrentQueue<MergedPush> _free = new();
    private int _count;

    /// <summary>Pushes waiting to be rented again.</summary>
    public int Count => Volatile.Read(ref _count);

    public MergedPush Rent()
    {
        if (!_free.TryDequeue(out var push)) return new MergedPush(recycler, this);
        Interlocked.Decrement(ref _count);
        push.Reuse();
        return push;
    }

    public void Return(MergedPush push)
    {
        if (Interlocked.Increment(ref _count) > capacity)
        {
            Interlocked.Decrement(ref _count);
            return;
        }
        _free.Enqueue(push);
    }
}
