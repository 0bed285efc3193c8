using System.Buffers;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A writer's own free list of partition buffers. A pushed buffer comes back here and the next
/// sealed partition takes it, so a writer in steady state allocates nothing. The shared
/// <see cref="ArrayPool{T}"/> alone is not enough: it keeps only a few dozen arrays of a size per
/// core, fewer than one writer has in flight on a small machine. The list is bounded by the
/// writer's in-flight limit; buffers beyond it, and odd sizes, go back to the shared pool.
/// </summary>
internal sealed class BufferRecycler(int bufferLength, int capacity)
{
    private readonly Stack<byte[]> _free = new();
    private readonly Lock _lock = new();

    /// <summary>Length of the arrays handed out; every array is at least this long.</summary>
    public int BufferLength { get; } = bufferLength;

    public byte[] Rent()
    {
        lock (_lock)
        {
            if (_free.TryPop(out var buffer)) return buffer;
        }
        return ArrayPool<byte>.Shared.Rent(BufferLength);
    }

    /// <summary>Called from push completions (any thread). Arrays of about the right size are kept for reuse.</summary>
    public void Return(byte[] buffer)
    {
        // An array twice the size would be wasted as a partition buffer; let the shared pool have it.
        if (buffer.Length >= BufferLength && buffer.Length / 2 < BufferLength)
        {
            lock (_lock)
            {
                if (_free.Count < capacity)
                {
                    _free.Push(buffer);
                    return;
                }
            }
        }
        ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>Hands every kept array back to the shared pool (the writer is done).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            while (_free.TryPop(out var buffer)) ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
