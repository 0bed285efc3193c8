using System.Buffers;
using System.Buffers.Binary;

namespace Orleans.Shuffle.Wire;

/// <summary>Length-prefixed frames. The parser never throws and never consumes a partial frame.</summary>
public static class FrameCodec
{
    /// <summary>
    /// Reads one whole frame. Returns false with <paramref name="error"/> = None when more input is
    /// needed (nothing is consumed), or with an error when the input can never become a valid frame
    /// (the caller should answer with an error and close the connection).
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, int maxBodyLength, out Frame frame, out FrameError error)
    {
        frame = default;
        if (!TryPeekHeader(reader, maxBodyLength, out var header, out error)) return false;
        if (reader.Remaining - FrameHeader.Size < header.BodyLength) return false;
        reader.Advance(FrameHeader.Size);
        frame = new Frame(header, reader.UnreadSequence.Slice(0, header.BodyLength));
        reader.Advance(header.BodyLength);
        return true;
    }

    /// <summary>
    /// Reads the header of the frame at the reader's position without consuming anything, whether or
    /// not its body has arrived. False with <paramref name="error"/> = None when fewer than
    /// <see cref="FrameHeader.Size"/> bytes are there, or with an error for a header that is invalid.
    /// </summary>
    public static bool TryPeekHeader(in SequenceReader<byte> reader, int maxBodyLength, out FrameHeader header, out FrameError error)
    {
        header = default;
        error = FrameError.None;
        if (reader.Remaining < FrameHeader.Size) return false;

        Span<byte> raw = stackalloc byte[FrameHeader.Size];
        if (!reader.TryCopyTo(raw)) return false;

        int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(raw);
        if (bodyLength < 0 || bodyLength > maxBodyLength)
        {
            error = FrameError.Oversized;
            return false;
        }
        if (raw[7] != 0 || (raw[6] & ~(byte)(FrameFlags.Response | FrameFlags.Error)) != 0)
        {
            error = FrameError.Malformed;
            return false;
        }
        header = new FrameHeader(
            bodyLength,
            (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(raw[4..]),
            (FrameFlags)raw[6],
            BinaryPrimitives.ReadUInt64LittleEndian(raw[8..]));
        return true;
    }
}
