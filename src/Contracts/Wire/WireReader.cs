using System.Buffers;
using System.Text;

namespace Orleans.Shuffle.Wire;

/// <summary>
/// Reads the primitives of a complete frame body. A body that ends early or holds an impossible
/// value is malformed: the reader throws <see cref="GridException"/> with
/// <see cref="GridErrorCode.MalformedFrame"/>, which the caller turns into an error reply.
/// </summary>
public ref struct WireReader(ReadOnlySequence<byte> body)
{
    private SequenceReader<byte> _reader = new(body);

    public readonly long Remaining => _reader.Remaining;

    public byte ReadByte() => _reader.TryRead(out byte value) ? value : throw Truncated();

    public bool ReadBool() => ReadByte() switch
    {
        0 => false,
        1 => true,
        var b => throw Malformed($"bool field holds {b}"),
    };

    public ushort ReadUInt16() => _reader.TryReadLittleEndian(out short value) ? (ushort)value : throw Truncated();

    public int ReadInt32() => _reader.TryReadLittleEndian(out int value) ? value : throw Truncated();

    public uint ReadUInt32() => (uint)ReadInt32();

    public long ReadInt64() => _reader.TryReadLittleEndian(out long value) ? value : throw Truncated();

    /// <summary>Reads a count that must be between 0 and <paramref name="max"/>, and that the rest of the body can hold.</summary>
    public int ReadCount(int max, int minBytesPerItem)
    {
        int count = ReadInt32();
        if (count < 0 || count > max || (long)count * minBytesPerItem > _reader.Remaining)
            throw Malformed($"count {count} out of range");
        return count;
    }

    public string ReadString() => ReadString(null);

    /// <summary>A string field; with a <paramref name="cache"/>, a string read before is returned again instead of decoded.</summary>
    public string ReadString(Utf8StringCache? cache)
    {
        int length = ReadUInt16();
        if (length > ProtocolConstants.MaxStringBytes) throw Malformed("string too long");
        if (_reader.Remaining < length) throw Truncated();
        string value;
        var unread = _reader.UnreadSpan;
        if (unread.Length >= length)
        {
            value = Decode(unread[..length], cache);
        }
        else
        {
            Span<byte> copy = length <= 512 ? stackalloc byte[length] : new byte[length];
            _reader.TryCopyTo(copy);
            value = Decode(copy, cache);
        }
        _reader.Advance(length);
        return value;
    }

    private static string Decode(ReadOnlySpan<byte> utf8, Utf8StringCache? cache) =>
        cache is null ? Encoding.UTF8.GetString(utf8) : cache.Get(utf8);

    /// <summary>A u32-length-prefixed byte field, as a slice of the body (no copy).</summary>
    public ReadOnlySequence<byte> ReadBytes(int maxLength)
    {
        int length = ReadInt32();
        if (length < 0 || length > maxLength) throw Malformed($"byte field of {length} bytes");
        return ReadRaw(length);
    }

    public ReadOnlySequence<byte> ReadRaw(int length)
    {
        if (_reader.Remaining < length) throw Truncated();
        var slice = _reader.UnreadSequence.Slice(0, length);
        _reader.Advance(length);
        return slice;
    }

    public ReadOnlySequence<byte> ReadToEnd() => ReadRaw((int)_reader.Remaining);

    /// <summary>Called after the last field: trailing bytes mean the peer and we disagree on the layout.</summary>
    public readonly void EnsureEnd()
    {
        if (_reader.Remaining != 0) throw Malformed($"{_reader.Remaining} unexpected trailing bytes");
    }

    public static GridException Malformed(string why) => new(GridErrorCode.MalformedFrame, "Malformed message: " + why + ".");

    private static GridException Truncated() => Malformed("body ends early");
}
