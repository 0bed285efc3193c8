namespace Orleans.Shuffle.Batches;

/// <summary>
/// How a batch's payload is stored. The writer picks one per batch and falls back to
/// <see cref="None"/> when compressing would not make the batch smaller, so a reader meets every
/// codec in one partition. Silos never look inside: they store and checksum the bytes as pushed.
/// </summary>
public enum BatchCodec : byte
{
    /// <summary>The payload is the framed records themselves.</summary>
    None = 0,

    /// <summary>An LZ4 block (no frame header) of the framed records.</summary>
    Lz4 = 1,

    /// <summary>A Zstandard frame of the framed records.</summary>
    Zstd = 2,
}
