using System.Buffers;
using K4os.Compression.LZ4;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Wire;
using ZstdSharp;

namespace Orleans.Shuffle.Client.Compression;

/// <summary>
/// Turns a stored batch payload back into framed records, for one reader. An uncompressed payload
/// is returned as it is; a compressed one is decoded into a pooled buffer that this object owns and
/// reuses, so the result is valid until the next call. The checksum was verified over the stored
/// bytes before this runs: a payload that then fails to decode was written wrong, and fails the
/// read with a clear error rather than returning records nobody can vouch for.
/// </summary>
internal sealed class BatchDecompressor : IDisposable
{
    private byte[] _buffer = [];
    private Decompressor? _zstd;

    public ReadOnlyMemory<byte> Decode(in BatchHeader header, ReadOnlyMemory<byte> stored)
    {
        if (header.Codec == BatchCodec.None) return stored;
        if (_buffer.Length < header.RawLength)
        {
            if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(header.RawLength);
        }
        var destination = _buffer.AsSpan(0, header.RawLength);
        int decoded = header.Codec switch
        {
            BatchCodec.Lz4 => LZ4Codec.Decode(stored.Span, destination),
            BatchCodec.Zstd => DecodeZstd(stored.Span, destination),
            _ => -1,
        };
        if (decoded != header.RawLength)
        {
            throw new GridException(GridErrorCode.MalformedFrame,
                $"Batch (map {header.MapId}, attempt {header.AttemptId}, batch {header.BatchId}) passed its checksum but its {header.Codec} payload " +
                $"of {header.PayloadLength} bytes does not decode to the {header.RawLength} bytes its header promises: the writer stored it wrong.");
        }
        return _buffer.AsMemory(0, decoded);
    }

    private int DecodeZstd(ReadOnlySpan<byte> stored, Span<byte> destination)
    {
        _zstd ??= new Decompressor();
        try
        {
            return _zstd.TryUnwrap(stored, destination, out int written) ? written : -1;
        }
        catch (ZstdException)
        {
            return -1;
        }
    }

    public void Dispose()
    {
        _zstd?.Dispose();
        _zstd = null;
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
