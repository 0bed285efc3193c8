using System.Buffers.Binary;

namespace Orleans.Shuffle.Job.LocalShuffle;

/// <summary>One run of records of one partition in a map's data file: <see cref="Length"/> bytes at <see cref="Offset"/>.</summary>
internal readonly record struct MapOutputSegment(int Partition, long Offset, int Length);

/// <summary>
/// The index of one map attempt's data file: where each partition's segments are. A segment is a
/// run of framed records (<see cref="MapOutputWriter"/>) of one partition, written when that
/// partition's buffer filled, so a partition is a list of segments, in the order they were written.
/// On disk: magic, version, the data file's length, the segment count, then per segment its
/// partition (int32), length (int32) and offset (int64), little-endian.
/// </summary>
internal sealed class MapOutputIndex
{
    private const uint Magic = 0x58494C4F; // "OLIX"
    private const int Version = 1;
    private const int HeaderBytes = 4 + 4 + 8 + 4;
    private const int EntryBytes = 4 + 4 + 8;

    private readonly Dictionary<int, List<MapOutputSegment>> _byPartition = [];

    public MapOutputIndex(long dataLength, IReadOnlyList<MapOutputSegment> segments)
    {
        DataLength = dataLength;
        Segments = segments;
        foreach (var segment in segments)
        {
            if (!_byPartition.TryGetValue(segment.Partition, out var list)) _byPartition[segment.Partition] = list = [];
            list.Add(segment);
        }
    }

    public long DataLength { get; }

    public IReadOnlyList<MapOutputSegment> Segments { get; }

    public IReadOnlyList<MapOutputSegment> SegmentsOf(int partition) => _byPartition.TryGetValue(partition, out var list) ? list : [];

    public void Write(string path)
    {
        var bytes = new byte[HeaderBytes + Segments.Count * EntryBytes];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], DataLength);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], Segments.Count);
        int at = HeaderBytes;
        foreach (var segment in Segments)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], segment.Partition);
            BinaryPrimitives.WriteInt32LittleEndian(span[(at + 4)..], segment.Length);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], segment.Offset);
            at += EntryBytes;
        }
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Reads and checks an index: every segment must lie inside the data file it describes.</summary>
    public static MapOutputIndex Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var span = bytes.AsSpan();
        if (span.Length < HeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic || BinaryPrimitives.ReadInt32LittleEndian(span[4..]) != Version)
            throw new InvalidDataException($"{path} is not a map output index of version {Version}.");
        long dataLength = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
        int count = BinaryPrimitives.ReadInt32LittleEndian(span[16..]);
        if (count < 0 || span.Length != HeaderBytes + (long)count * EntryBytes)
            throw new InvalidDataException($"{path} says {count} segments but holds {span.Length} bytes.");
        var segments = new MapOutputSegment[count];
        for (int i = 0, at = HeaderBytes; i < count; i++, at += EntryBytes)
        {
            var segment = new MapOutputSegment(
                BinaryPrimitives.ReadInt32LittleEndian(span[at..]),
                BinaryPrimitives.ReadInt64LittleEndian(span[(at + 8)..]),
                BinaryPrimitives.ReadInt32LittleEndian(span[(at + 4)..]));
            if (segment.Partition < 0 || segment.Length <= 0 || segment.Offset < 0 || segment.Offset + segment.Length > dataLength)
                throw new InvalidDataException($"{path}: segment {i} ({segment}) is outside the data file's {dataLength} bytes.");
            segments[i] = segment;
        }
        return new MapOutputIndex(dataLength, segments);
    }
}
