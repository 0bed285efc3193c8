using Orleans.Shuffle.Batches;
using ZstdSharp;

namespace Orleans.Shuffle.Client.Compression;

/// <summary>Zstandard frames at a configured level; one context per writer, reused for every batch.</summary>
internal sealed class ZstdBatchCompressor(int level) : BatchCompressor
{
    private readonly Compressor _compressor = new(level);

    public override BatchCodec Codec => BatchCodec.Zstd;

    public override bool TryCompress(ReadOnlySpan<byte> raw, Span<byte> destination, out int written)
    {
        try
        {
            return _compressor.TryWrap(raw, destination, out written);
        }
        catch (ZstdException)
        {
            // Not compressed is never wrong: the writer then sends the batch as it is.
            written = 0;
            return false;
        }
    }

    public override void Dispose() => _compressor.Dispose();
}
