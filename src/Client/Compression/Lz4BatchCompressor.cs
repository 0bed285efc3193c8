using K4os.Compression.LZ4;
using Orleans.Shuffle.Batches;

namespace Orleans.Shuffle.Client.Compression;

/// <summary>LZ4 blocks at the fastest level, as Spark and Celeborn use by default: stateless, no allocation.</summary>
internal sealed class Lz4BatchCompressor : BatchCompressor
{
    public override BatchCodec Codec => BatchCodec.Lz4;

    public override bool TryCompress(ReadOnlySpan<byte> raw, Span<byte> destination, out int written)
    {
        // Encode returns a negative length when the output does not fit the destination.
        written = LZ4Codec.Encode(raw, destination, LZ4Level.L00_FAST);
        if (written > 0) return true;
        written = 0;
        return false;
    }
}
