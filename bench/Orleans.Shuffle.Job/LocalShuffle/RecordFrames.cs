using System.Buffers.Binary;

namespace Orleans.Shuffle.Job.LocalShuffle;

/// <summary>
/// How records are framed in a map's data file: a 4-byte little-endian length, then the record.
/// The writer frames with <see cref="Write"/>; a reducer walks a segment with <see cref="Reader"/>.
/// </summary>
internal static class RecordFrames
{
    public const int HeaderBytes = 4;

    public static int FrameLength(int recordLength) => HeaderBytes + recordLength;

    /// <summary>Writes one frame at the start of <paramref name="destination"/>, which must hold <see cref="FrameLength"/> bytes.</summary>
    public static void Write(Span<byte> destination, ReadOnlySpan<byte> record)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, record.Length);
        record.CopyTo(destination[HeaderBytes..]);
    }

    /// <summary>The records of one segment, in order; a frame that runs past the segment's end is corrupt data, not a short read.</summary>
    public ref struct Reader(ReadOnlySpan<byte> segment)
    {
        private ReadOnlySpan<byte> _rest = segment;

        public bool TryRead(out ReadOnlySpan<byte> record)
        {
            if (_rest.IsEmpty)
            {
                record = default;
                return false;
            }
            int length = _rest.Length >= HeaderBytes ? BinaryPrimitives.ReadInt32LittleEndian(_rest) : -1;
            if (length < 0 || length > _rest.Length - HeaderBytes)
                throw new InvalidDataException($"A record frame says {length} bytes with {_rest.Length - HeaderBytes} left in its segment.");
            record = _rest.Slice(HeaderBytes, length);
            _rest = _rest[(HeaderBytes + length)..];
            return true;
        }
    }
}
