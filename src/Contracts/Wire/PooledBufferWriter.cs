using System.Buffers;

namespace Orleans.Shuffle.Wire;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over arrays rented from the shared pool. Reusable after
/// <see cref="Reset"/>; returns its array on <see cref="Dispose"/>.
/// </summary>
public sealed class PooledBufferWriter(int initialCapacity = 4096) : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    private int _written;

    public int WrittenCount => _written;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    /// <summary>Writable view of bytes already written, for patching a length field.</summary>
    public Span<byte> WrittenSpanForPatch(int offset, int length) => _buffer.AsSpan(offset, length);

    public void Reset() => _written = 0;

    /// <summary>Empties the writer and, if its array grew past <paramref name="maxKeptBytes"/>, swaps it for a small one, so one huge frame does not stay rented.</summary>
    public void ShrinkTo(int maxKeptBytes)
    {
        _written = 0;
        if (_buffer.Length <= maxKeptBytes) return;
        var large = _buffer;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxKeptBytes, 4096));
        ArrayPool<byte>.Shared.Return(large);
    }

    public void Advance(int count)
    {
        if (count < 0 || _written + count > _buffer.Length) throw new ArgumentOutOfRangeException(nameof(count));
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _written = 0;
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_buffer.Length - _written >= sizeHint) return;
        int size = Math.Max(_buffer.Length * 2, _written + sizeHint);
        var next = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(0, _written).CopyTo(next);
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = next;
    }
}
