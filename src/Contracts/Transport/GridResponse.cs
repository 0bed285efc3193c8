using System.Buffers;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Transport;

/// <summary>A reply body in a pooled buffer. Dispose it when done; the memory is reused.</summary>
public sealed class GridResponse : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;

    internal GridResponse(ReadOnlySequence<byte> body)
    {
        _length = (int)body.Length;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(_length, 1));
        body.CopyTo(_buffer);
    }

    private GridResponse(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    /// <summary>A response over <paramref name="buffer"/>, rented from ArrayPool.Shared, which it now owns.</summary>
    internal static GridResponse Own(byte[] buffer, int length) => new(buffer, length);

    public ReadOnlyMemory<byte> Memory => (_buffer ?? throw new ObjectDisposedException(nameof(GridResponse))).AsMemory(0, _length);

    public ReadOnlySequence<byte> Body => new(Memory);

    /// <summary>Decodes the whole body as <typeparamref name="T"/>; trailing bytes are malformed.</summary>
    public T Read<T>() where T : IWireMessage<T> => WireMessage.ReadWhole<T>(Body);

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }
}
