using Orleans.Shuffle.Batches;

namespace Orleans.Shuffle.Client;

/// <summary>
/// The bytes of one fetched chunk (back-to-back batches, checksums already verified) and the
/// owner of their pooled memory. Batches handed out are slices of it: valid until it is disposed.
/// </summary>
internal sealed class FetchedChunk(ReadOnlyMemory<byte> bytes, IDisposable? owner) : IDisposable
{
    public ReadOnlyMemory<byte> Bytes { get; } = bytes;

    public int Length => Bytes.Length;

    /// <summary>Batches in the chunk, counted when it was verified.</summary>
    public int BatchCount { get; private set; }

    /// <summary>
    /// Walks every batch, verifying its CRC32C, and counts them. Throws GridException
    /// (ChecksumMismatch or MalformedFrame) on the first bad one. Runs once, on the fetching
    /// thread, so the reader's loop does not pay for checksums.
    /// </summary>
    public void Verify()
    {
        var iterator = new BatchIterator(Bytes.Span, verify: true);
        int count = 0;
        while (iterator.MoveNext(out _, out _)) count++;
        BatchCount = count;
    }

    /// <summary>The batch at <paramref name="offset"/>, moving past it; false at the end of the chunk.</summary>
    public bool TryReadBatch(ref int offset, out BatchHeader header, out ReadOnlyMemory<byte> payload)
    {
        payload = default;
        header = default;
        if (offset >= Bytes.Length) return false;
        var iterator = new BatchIterator(Bytes.Span[offset..], verify: false);
        if (!iterator.MoveNext(out header, out _)) return false;
        payload = Bytes.Slice(offset + BatchHeader.Size, header.PayloadLength);
        offset += header.TotalLength;
        return true;
    }

    public void Dispose() => owner?.Dispose();
}
