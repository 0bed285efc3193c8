using System.Buffers;
using System.Buffers.Binary;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Batches;

/// <summary>
/// The 28-byte header in front of every batch, on the wire and in partition files (little-endian):
/// <code>
/// 0  i32 mapId
/// 4  i32 attemptId
/// 8  i32 batchId       (a retried batch keeps its id, so readers can drop the duplicate)
/// 12 i32 payloadLength (bytes stored after the header)
/// 16 u8  codec         (<see cref="BatchCodec"/>)
/// 17 u8  reserved, 0
/// 18 u16 reserved, 0
/// 20 i32 rawLength     (the payload's length once decompressed; equals payloadLength for None)
/// 24 u32 crc32c        (of bytes 0..23 and the stored payload)
/// </code>
/// The checksum covers the stored bytes, so silos verify a batch without decompressing it.
/// </summary>
public readonly record struct BatchHeader(int MapId, int AttemptId, int BatchId, int PayloadLength, BatchCodec Codec, int RawLength, uint Crc)
{
    public const int Size = 28;

    private const int CheckedBytes = 24;

    public int TotalLength => Size + PayloadLength;

    /// <summary>Writes a header for an uncompressed <paramref name="payload"/>, computing its checksum.</summary>
    public static void Write(Span<byte> destination, int mapId, int attemptId, int batchId, ReadOnlySpan<byte> payload) =>
        Write(destination, mapId, attemptId, batchId, BatchCodec.None, payload.Length, payload);

    /// <summary>Writes a header for <paramref name="payload"/> as stored with <paramref name="codec"/>, computing its checksum.</summary>
    public static void Write(Span<byte> destination, int mapId, int attemptId, int batchId, BatchCodec codec, int rawLength, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, mapId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], attemptId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], batchId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], payload.Length);
        destination[16] = (byte)codec;
        destination[17] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[18..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[20..], rawLength);
        uint crc = Crc32C.Append(Crc32C.Compute(destination[..CheckedBytes]), payload);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[CheckedBytes..], crc);
    }

    /// <summary>
    /// Parses a header; false if the fields are impossible: negative ids or lengths, an oversized
    /// payload, an unknown codec, reserved bytes set, or an uncompressed batch whose lengths differ.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out BatchHeader header)
    {
        header = default;
        if (source.Length < Size) return false;
        header = new BatchHeader(
            BinaryPrimitives.ReadInt32LittleEndian(source),
            BinaryPrimitives.ReadInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[12..]),
            (BatchCodec)source[16],
            BinaryPrimitives.ReadInt32LittleEndian(source[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[CheckedBytes..]));
        bool reservedClear = source[17] == 0 && BinaryPrimitives.ReadUInt16LittleEndian(source[18..]) == 0;
        bool codecKnown = header.Codec is BatchCodec.None or BatchCodec.Lz4 or BatchCodec.Zstd;
        return header.MapId >= 0 && header.AttemptId >= 0 && header.BatchId >= 0
            && header.PayloadLength >= 0 && header.PayloadLength <= ProtocolConstants.MaxBatchPayloadBytes
            && header.RawLength >= 0 && header.RawLength <= ProtocolConstants.MaxBatchPayloadBytes
            && reservedClear && codecKnown
            && (header.Codec != BatchCodec.None || header.RawLength == header.PayloadLength);
    }

    /// <summary>True when <paramref name="payload"/> and the first 24 bytes of <paramref name="rawHeader"/> match the stored checksum.</summary>
    public bool Verify(ReadOnlySpan<byte> rawHeader, ReadOnlySpan<byte> payload) =>
        Crc32C.Append(Crc32C.Compute(rawHeader[..CheckedBytes]), payload) == Crc;

    /// <summary>True when <paramref name="batch"/> (this header's raw bytes, then its payload, in any number of segments) matches the stored checksum.</summary>
    public bool Verify(in ReadOnlySequence<byte> batch)
    {
        if (batch.Length < TotalLength) return false;
        if (batch.IsSingleSegment)
        {
            var span = batch.FirstSpan;
            return Verify(span, span.Slice(Size, PayloadLength));
        }
        Span<byte> rawHeader = stackalloc byte[Size];
        batch.Slice(0, Size).CopyTo(rawHeader);
        uint crc = Crc32C.Compute(rawHeader[..CheckedBytes]);
        foreach (var segment in batch.Slice(Size, PayloadLength)) crc = Crc32C.Append(crc, segment.Span);
        return crc == Crc;
    }
}
