using System.Buffers.Binary;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>Records inside a batch payload: each is a u32 little-endian length followed by its bytes.</summary>
internal static class RecordFraming
{
    public const int PrefixBytes = 4;

    /// <summary>Writes one framed record; <paramref name="destination"/> must hold <see cref="PrefixBytes"/> + record length.</summary>
    public static void Write(Span<byte> destination, ReadOnlySpan<byte> record)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)record.Length);
        record.CopyTo(destination[PrefixBytes..]);
    }

    /// <summary>
    /// Reads the record at <paramref name="offset"/> and moves past it; false at the end of the payload.
    /// A length that runs past the payload throws: the batch checksum passed, so the writer framed it wrong.
    /// </summary>
    public static bool TryReadNext(ReadOnlyMemory<byte> payload, ref int offset, out ReadOnlyMemory<byte> record)
    {
        record = default;
        int remaining = payload.Length - offset;
        if (remaining <= 0) return false;
        if (remaining < PrefixBytes)
            throw new GridException(GridErrorCode.MalformedFrame, $"A batch payload ends with {remaining} bytes that cannot hold a record length.");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(payload.Span[offset..]);
        if (length > (uint)(remaining - PrefixBytes))
            throw new GridException(GridErrorCode.MalformedFrame,
                $"A record of {length} bytes at offset {offset} runs past the end of its {payload.Length}-byte batch payload.");
        record = payload.Slice(offset + PrefixBytes, (int)length);
        offset += PrefixBytes + (int)length;
        return true;
    }
}
