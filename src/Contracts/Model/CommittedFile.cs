using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Model;

/// <summary>
/// What a PartitionGrain records when it commits: the file's size, how many batches it holds, a
/// CRC32C of its bytes in order, and the chunk boundaries readers fetch by (chunk i is
/// <c>[ChunkOffsets[i], ChunkOffsets[i + 1])</c>; offsets start at 0, never decrease, end at Bytes).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record CommittedFile(long Bytes, int BatchCount, uint Crc32C, long[] ChunkOffsets)
{
    public const int MaxChunks = 1 << 20;

    public int ChunkCount => ChunkOffsets.Length - 1;

    public static CommittedFile Empty { get; } = new(0, 0, 0, [0]);

    /// <summary>Throws <see cref="GridException"/> (MalformedFrame) if the description is impossible: a silo's answer is checked before it is trusted.</summary>
    public void Validate()
    {
        if (Bytes < 0 || BatchCount < 0 || ChunkOffsets is null || ChunkOffsets.Length is < 1 or > MaxChunks + 1)
            throw new GridException(GridErrorCode.MalformedFrame, "Committed file out of range.");
        if (ChunkOffsets[0] != 0 || ChunkOffsets[^1] != Bytes)
            throw new GridException(GridErrorCode.MalformedFrame, "Committed file's chunk offsets do not cover the file.");
        for (int i = 1; i < ChunkOffsets.Length; i++)
        {
            if (ChunkOffsets[i] < ChunkOffsets[i - 1]) throw new GridException(GridErrorCode.MalformedFrame, "Committed file's chunk offsets are out of order.");
        }
    }
}
