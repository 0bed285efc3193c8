using System.Buffers.Binary;

namespace Orleans.Shuffle.Wire;

/// <summary>
/// The fixed 16-byte header in front of every frame (little-endian):
/// <code>
/// 0  u32 bodyLength
/// 4  u16 messageType
/// 6  u8  flags
/// 7  u8  reserved, must be 0
/// 8  u64 requestId
/// </code>
/// </summary>
public readonly record struct FrameHeader(int BodyLength, MessageType Type, FrameFlags Flags, ulong RequestId)
{
    public const int Size = 16;

    public bool IsResponse => (Flags & FrameFlags.Response) != 0;

    public bool IsError => (Flags & FrameFlags.Error) != 0;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, BodyLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)Type);
        destination[6] = (byte)Flags;
        destination[7] = 0;
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], RequestId);
    }
}
