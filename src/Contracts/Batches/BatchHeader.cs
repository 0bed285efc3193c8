using System.Buffers.Binary;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Batches;

/// <summary>
/// The 20-byte header in front of every batch, on the wire and in partition files (little-endian):
/// <code>
/// 0  i32 mapId
/// 4  i32 attemptId
/// 8  i32 batchId       (a retried batch keeps its id, so readers can drop the duplicate)
/// 12 i32 payloadLength
/// 16 u32 crc32c        (of bytes 0..15 and the payload)
/// </code>
/// </summary>
public readonly record struct BatchHeader(int MapId, int AttemptId, int BatchId, int PayloadLength, uint Crc)
{
    public const int Size = 20;

    public int TotalLength => Size + PayloadLength;

    /// <summary>Writes a header for <paramref name="payload"/>, computing its checksum.</summary>
    public static void Write(Span<byte> destination, int mapId, int attemptId, int batchId, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, mapId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], attemptId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], batchId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], payload.Length);
        uint crc = Crc32C.Append(Crc32C.Compute(destination[..16]), payload);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], crc);
    }

    /// <summary>Parses a header; false if the fields are impossible (negative ids or length, oversized payload).</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out BatchHeader header)
    {
        header = default;
        if (source.Length < Size) return false;
        header = new BatchHeader(
            BinaryPrimitives.ReadInt32LittleEndian(source),
            BinaryPrimitives.ReadInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[12..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[16..]));
        return header.MapId >= 0 && header.AttemptId >= 0 && header.BatchId >= 0
            && header.PayloadLength >= 0 && header.PayloadLength <= ProtocolConstants.MaxBatchPayloadBytes;
    }

    /// <summary>True when <paramref name="payload"/> and the first 16 bytes of <paramref name="rawHeader"/> match the stored checksum.</summary>
    public bool Verify(ReadOnlySpan<byte> rawHeader, ReadOnlySpan<byte> payload) =>
        Crc32C.Append(Crc32C.Compute(rawHeader[..16]), payload) == Crc;
}
