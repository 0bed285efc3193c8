using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Orleans.Shuffle.Wire;

/// <summary>Writes the little-endian primitives of the protocol into a buffer writer.</summary>
public readonly struct WireWriter(IBufferWriter<byte> output)
{
    public IBufferWriter<byte> Output { get; } = output;

    public void WriteByte(byte value)
    {
        Output.GetSpan(1)[0] = value;
        Output.Advance(1);
    }

    public void WriteBool(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(Output.GetSpan(2), value);
        Output.Advance(2);
    }

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(Output.GetSpan(4), value);
        Output.Advance(4);
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(Output.GetSpan(4), value);
        Output.Advance(4);
    }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(Output.GetSpan(8), value);
        Output.Advance(8);
    }

    /// <summary>u16 byte length, then UTF-8 bytes.</summary>
    public void WriteString(string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length > ProtocolConstants.MaxStringBytes) throw new GridException(GridErrorCode.InvalidArgument, "String too long for the wire.");
        WriteUInt16((ushort)length);
        var span = Output.GetSpan(length);
        Encoding.UTF8.GetBytes(value, span);
        Output.Advance(length);
    }

    /// <summary>u32 byte length, then the bytes.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteInt32(value.Length);
        WriteRaw(value);
    }

    public void WriteRaw(ReadOnlySpan<byte> value)
    {
        value.CopyTo(Output.GetSpan(value.Length));
        Output.Advance(value.Length);
    }

    public void WriteRaw(in ReadOnlySequence<byte> value)
    {
        foreach (var segment in value) WriteRaw(segment.Span);
    }
}
