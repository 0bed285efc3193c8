using System.Buffers;
using Orleans.Shuffle.Job.Tasks;

namespace Orleans.Shuffle.Job.LocalShuffle;

/// <summary>
/// Writes one map attempt's output as Spark's sort shuffle lays it out without sorting: one data
/// file and an index. Each partition has a buffer; when it fills, it is appended to the data file as
/// one segment and noted in the index, so memory stays bounded by the buffers (at most
/// <see cref="MemoryBudgetBytes"/> over all partitions, between <see cref="MinSegmentBytes"/> and
/// <see cref="MaxSegmentBytes"/> each) plus the file's 1 MiB write buffer, however large the map.
/// A reducer then reads each of its segments in one read.
/// </summary>
internal sealed class MapOutputWriter : IMapOutput, IDisposable
{
    public const int MaxSegmentBytes = 1 << 20;
    public const int MinSegmentBytes = 16 << 10;
    public const long MemoryBudgetBytes = 32L << 20;
    private const int FileBufferBytes = 1 << 20;

    private readonly FileStream _data;
    private readonly byte[]?[] _buffers;
    private readonly int[] _filled;
    private readonly List<MapOutputSegment> _segments = [];
    private readonly int _segmentBytes;
    private long _offset;

    public MapOutputWriter(string dataPath, int partitions)
    {
        _segmentBytes = SegmentBytesFor(partitions);
        _buffers = new byte[partitions][];
        _filled = new int[partitions];
        // CreateNew: an attempt's file is its own; finding one already there means two attempts got the same id.
        _data = new FileStream(dataPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read, FileBufferBytes);
    }

    public long RecordsWritten { get; private set; }

    /// <summary>Bytes of the data file: the records and their frames.</summary>
    public long BytesWritten => _offset;

    public int SegmentsWritten => _segments.Count;

    /// <summary>The buffer size of each partition: the memory budget shared out, within sensible bounds for one read.</summary>
    public static int SegmentBytesFor(int partitions) => (int)Math.Clamp(MemoryBudgetBytes / Math.Max(1, partitions), MinSegmentBytes, MaxSegmentBytes);

    public void Write(int partition, ReadOnlySpan<byte> record)
    {
        int frame = RecordFrames.FrameLength(record.Length);
        if (frame > _segmentBytes)
        {
            // Larger than any buffer: a segment of its own, after what the partition has buffered, so order is kept.
            Flush(partition);
            byte[] single = ArrayPool<byte>.Shared.Rent(frame);
            try
            {
                RecordFrames.Write(single, record);
                Append(partition, single.AsSpan(0, frame));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(single);
            }
        }
        else
        {
            if (_filled[partition] + frame > _segmentBytes) Flush(partition);
            byte[] buffer = _buffers[partition] ??= ArrayPool<byte>.Shared.Rent(_segmentBytes);
            RecordFrames.Write(buffer.AsSpan(_filled[partition]), record);
            _filled[partition] += frame;
        }
        RecordsWritten++;
    }

    /// <summary>Never refuses: a full buffer is written out on the spot.</summary>
    public bool TryWrite(int partition, ReadOnlySpan<byte> record)
    {
        Write(partition, record);
        return true;
    }

    ValueTask IMapOutput.WriteAfterRefusalAsync(int partition, byte[] record, CancellationToken ct)
    {
        Write(partition, record);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes what every partition still buffers, then the index; the output is complete once this returns.</summary>
    public void Complete(string indexPath)
    {
        for (int p = 0; p < _buffers.Length; p++) Flush(p);
        _data.Flush();
        new MapOutputIndex(_offset, _segments).Write(indexPath);
    }

    public void Dispose()
    {
        _data.Dispose();
        for (int p = 0; p < _buffers.Length; p++)
        {
            if (_buffers[p] is { } buffer) ArrayPool<byte>.Shared.Return(buffer);
            _buffers[p] = null;
        }
    }

    private void Flush(int partition)
    {
        if (_filled[partition] == 0) return;
        Append(partition, _buffers[partition].AsSpan(0, _filled[partition]));
        _filled[partition] = 0;
    }

    private void Append(int partition, ReadOnlySpan<byte> segment)
    {
        // A write at least as large as the file's buffer goes straight to the file: one system call per full segment.
        _data.Write(segment);
        _segments.Add(new MapOutputSegment(partition, _offset, segment.Length));
        _offset += segment.Length;
    }
}
