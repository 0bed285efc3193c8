using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A writer's free list of <see cref="MergedPush"/> objects: the writer's thread rents one to fill,
/// and a push's completion (any thread) returns it. Bounded like the writer's buffers: pushes beyond
/// <paramref name="capacity"/> are left to the collector.
/// </summary>
internal sealed class MergedPushPool(BufferRecycler recycler, int capacity)
{
    private readonly BoundedFreeList<MergedPush> _free = new(capacity);

    /// <summary>Pushes waiting to be rented again.</summary>
    public int Count => _free.Count;

    public MergedPush Rent()
    {
        if (!_free.TryTake(out var push)) return new MergedPush(recycler, this);
        push.Reuse();
        return push;
    }

    public void Return(MergedPush push) => _free.TryKeep(push);
}
