using Orleans.Shuffle.Batches;

namespace Orleans.Shuffle.Client.Compression;

/// <summary>
/// Compresses the payload of a sealed batch for one writer. Not thread-safe: a writer seals on
/// its own thread, and each writer has its own compressor (Zstandard keeps a context).
/// </summary>
internal abstract class BatchCompressor : IDisposable
{
    public abstract BatchCodec Codec { get; }

    /// <summary>
    /// Compresses <paramref name="raw"/> into <paramref name="destination"/>; false when the result
    /// would not fit, which the writer takes as "not worth it" by passing a destination shorter than the input.
    /// </summary>
    public abstract bool TryCompress(ReadOnlySpan<byte> raw, Span<byte> destination, out int written);

    public virtual void Dispose()
    {
    }

    /// <summary>The compressor for <paramref name="codec"/>, or null for <see cref="BatchCodec.None"/>.</summary>
    public static BatchCompressor? Create(BatchCodec codec, int zstdLevel) => codec switch
    {
        BatchCodec.None => null,
        BatchCodec.Lz4 => new Lz4BatchCompressor(),
        BatchCodec.Zstd => new ZstdBatchCompressor(zstdLevel),
        _ => throw new ArgumentOutOfRangeException(nameof(codec), codec, "Unknown batch codec."),
    };
}
