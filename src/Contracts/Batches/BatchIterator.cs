using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Batches;

/// <summary>
/// Walks back-to-back batches in a contiguous buffer (a fetched chunk), verifying each checksum.
/// A truncated or corrupt batch throws <see cref="GridException"/> (ChecksumMismatch or MalformedFrame),
/// because a reader must never return data it cannot vouch for.
/// </summary>
public ref struct BatchIterator(ReadOnlySpan<byte> buffer, bool verify = true)
{
    private readonly ReadOnlySpan<byte> _buffer = buffer;
    private int _offset;

    public readonly int Offset => _offset;

    public bool MoveNext(out BatchHeader header, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        header = default;
        if (_offset == _buffer.Length) return false;
        var rest = _buffer[_offset..];
        if (!BatchHeader.TryRead(rest, out header) || rest.Length < header.TotalLength)
            throw new GridException(GridErrorCode.MalformedFrame, $"Truncated or invalid batch at offset {_offset}.");
        payload = rest.Slice(BatchHeader.Size, header.PayloadLength);
        if (verify && !header.Verify(rest, payload))
            throw new GridException(GridErrorCode.ChecksumMismatch,
                $"Checksum mismatch in batch (map {header.MapId}, attempt {header.AttemptId}, batch {header.BatchId}) at offset {_offset}.");
        _offset += header.TotalLength;
        return true;
    }
}
