using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Orleans.Shuffle.Wire;

/// <summary>
/// A thread-safe free list that keeps at most <paramref name="capacity"/> items: one returned beyond
/// that is left to the collector. For pools whose items are rented on one thread and returned on
/// others (a writer's merged pushes, the data endpoint's socket blocks).
/// </summary>
public sealed class BoundedFreeList<T>(int capacity) where T : class
{
    private readonly ConcurrentQueue<T> _items = new();
    private int _count;

    /// <summary>Items kept now.</summary>
    public int Count => Volatile.Read(ref _count);

    public bool TryTake([NotNullWhen(true)] out T? item)
    {
        if (!_items.TryDequeue(out item)) return false;
        Interlocked.Decrement(ref _count);
        return true;
    }

    /// <summary>Keeps <paramref name="item"/> unless the list is full; false when it was not kept.</summary>
    public bool TryKeep(T item)
    {
        if (Interlocked.Increment(ref _count) > capacity)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }
        _items.Enqueue(item);
        return true;
    }

    public void Clear()
    {
        // Bounded: each round takes one of the kept items.
        while (TryTake(out _))
        {
        }
    }
}
