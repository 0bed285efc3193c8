using System.Buffers;
using System.Numerics;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A writer's own free list of partition buffers. A pushed buffer comes back here and the next
/// sealed partition takes it, so a writer in steady state allocates nothing. The shared
/// <see cref="ArrayPool{T}"/> alone is not enough: it keeps only a few dozen arrays of a size per
/// core, fewer than one writer has in flight on a small machine, and it drops them at full
/// collections. The list is bounded by the writer's in-flight limit; buffers beyond it, and odd
/// sizes, go back to the shared pool.
/// <para>
/// It also keeps small arrays, in power-of-two sizes up to an eighth of a buffer, for batches that
/// move out of their full buffer (<see cref="RentSmall"/>): at most as many bytes of them together
/// as of full buffers, since that many small batches can be in flight at once.
/// </para>
/// </summary>
internal sealed class BufferRecycler
{
    private const int MinSmallBytes = 256;

    private readonly Stack<byte[]> _free = new();
    private readonly Stack<byte[]>[] _small;
    private readonly int _capacity;
    private readonly long _maxSmallKeptBytes;
    private long _smallKeptBytes;
    private readonly Lock _lock = new();

    public BufferRecycler(int bufferLength, int capacity)
    {
        BufferLength = bufferLength;
        _capacity = capacity;
        _maxSmallKeptBytes = (long)capacity * bufferLength;
        // Classes MinSmallBytes, 2x, ... up to the largest power of two at most bufferLength / 8.
        int classes = bufferLength / 8 >= MinSmallBytes ? BitOperations.Log2((uint)(bufferLength / 8)) - BitOperations.Log2(MinSmallBytes) + 1 : 0;
        _small = new Stack<byte[]>[classes];
        for (int i = 0; i < classes; i++) _small[i] = new Stack<byte[]>();
    }

    /// <summary>Length of the arrays handed out; every array is at least this long.</summary>
    public int BufferLength { get; }

    /// <summary>The largest length <see cref="RentSmall"/> keeps arrays for (0: none).</summary>
    public int MaxSmallBytes => _small.Length == 0 ? 0 : MinSmallBytes << (_small.Length - 1);

    public byte[] Rent()
    {
        lock (_lock)
        {
            if (_free.TryPop(out var buffer)) return buffer;
        }
        return ArrayPool<byte>.Shared.Rent(BufferLength);
    }

    /// <summary>An array of at least <paramref name="length"/> bytes, a power of two long when it is at most <see cref="MaxSmallBytes"/>.</summary>
    public byte[] RentSmall(int length)
    {
        int index = SmallClass(length);
        if (index < 0) return ArrayPool<byte>.Shared.Rent(length);
        lock (_lock)
        {
            if (_small[index].TryPop(out var buffer))
            {
                _smallKeptBytes -= buffer.Length;
                return buffer;
            }
        }
        return GC.AllocateUninitializedArray<byte>(MinSmallBytes << index);
    }

    /// <summary>Called from push completions (any thread). Arrays of about the right size, and small ones of a kept size, are kept for reuse.</summary>
    public void Return(byte[] buffer)
    {
        // An array twice the size would be wasted as a partition buffer; let the shared pool have it.
        if (buffer.Length >= BufferLength && buffer.Length / 2 < BufferLength)
        {
            lock (_lock)
            {
                if (_free.Count < _capacity)
                {
                    _free.Push(buffer);
                    return;
                }
            }
        }
        else if (BitOperations.IsPow2(buffer.Length) && SmallClass(buffer.Length) is int index and >= 0)
        {
            lock (_lock)
            {
                if (_smallKeptBytes + buffer.Length <= _maxSmallKeptBytes)
                {
                    _small[index].Push(buffer);
                    _smallKeptBytes += buffer.Length;
                }
            }
            // Small arrays were allocated here: one not kept is left to the collector.
            return;
        }
        ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>The small class holding arrays of at least <paramref name="length"/> bytes, or -1 if none does.</summary>
    private int SmallClass(int length)
    {
        if (length > MaxSmallBytes) return -1;
        int rounded = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, MinSmallBytes));
        return BitOperations.Log2((uint)rounded) - BitOperations.Log2(MinSmallBytes);
    }

    /// <summary>Hands every kept array back to the shared pool (the writer is done).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            while (_free.TryPop(out var buffer)) ArrayPool<byte>.Shared.Return(buffer);
            // Small arrays were allocated here, not rented: the collector takes them.
            foreach (var small in _small) small.Clear();
            _smallKeptBytes = 0;
        }
    }
}
