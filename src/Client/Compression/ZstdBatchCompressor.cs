using Orleans.Shuffle.Batches;
using ZstdSharp;

namespace Orleans.Shuffle.Client.Compression;

/// <summary>Zstandard frames at a configured level; one context per writer, reused for every batch.</summary>
internal sealed class ZstdBatchCompressor(int level) : BatchCompressor
{
    private readonly Compressor _compressor = new(level);

    public override BatchCodec Codec => BatchCodec.Zstd;

    public override bool TryCompress(ReadOnlySpan<byte> raw, Span<byte> destination, out int written) =>
        _compressor.TryWrap(raw, destination, out written);

    public override void Dispose() => _compressor.Dispose();
}
