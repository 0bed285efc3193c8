using Orleans.Shuffle.Job;
using Orleans.Shuffle.Job.LocalShuffle;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Tests.Job;

/// <summary>The local shuffle's files: a map's data file and index read back segment by segment, and which attempt of a map wins.</summary>
public class MapOutputFilesTests
{
    [Fact]
    public void Every_record_comes_back_in_its_partition_through_the_index()
    {
        using var temp = new TempDirectory("oshuffle-mapout");
        // Many partitions: small buffers, so partitions fill and spill into several segments each.
        const int partitions = 4096;
        int segmentBytes = MapOutputWriter.SegmentBytesFor(partitions);
        var written = new PartitionChecksum[3];
        var generator = new RecordGenerator(7, 0, 1000);
        var record = new byte[1000];
        string data = temp.Combine("map.data"), index = temp.Combine("map.index");
        using (var writer = new MapOutputWriter(data, partitions))
        {
            for (int i = 0; i < 200; i++)
            {
                generator.NextRecord(record);
                writer.Write(i % 3, record);
                written[i % 3].Add(record);
            }
            // A record larger than any buffer goes in a segment of its own.
            var large = new byte[segmentBytes + 1];
            large.AsSpan().Fill(7);
            writer.Write(1, large);
            written[1].Add(large);
            writer.Complete(index);
        }

        var read = MapOutputIndex.Read(index);
        Assert.Equal(new FileInfo(data).Length, read.DataLength);
        byte[] bytes = File.ReadAllBytes(data);
        for (int p = 0; p < 3; p++)
        {
            var segments = read.SegmentsOf(p);
            Assert.True(segments.Count > 1, $"partition {p} is one segment");
            var tally = new PartitionChecksum();
            foreach (var segment in segments)
            {
                var frames = new RecordFrames.Reader(bytes.AsSpan((int)segment.Offset, segment.Length));
                while (frames.TryRead(out var r)) tally.Add(r);
            }
            Assert.Equal(written[p], tally);
        }
        Assert.Empty(read.SegmentsOf(3));
    }

    [Fact]
    public void A_corrupt_index_or_frame_is_refused()
    {
        using var temp = new TempDirectory("oshuffle-mapout");
        string index = temp.Combine("bad.index");
        new MapOutputIndex(10, [new MapOutputSegment(0, 8, 4)]).Write(index);
        Assert.Throws<InvalidDataException>(() => MapOutputIndex.Read(index));
        Assert.Throws<InvalidDataException>(() =>
        {
            var frames = new RecordFrames.Reader([9, 0, 0, 0, 1, 2]);
            frames.TryRead(out _);
        });
    }

    [Fact]
    public void The_first_attempt_of_a_map_to_commit_wins_and_a_later_one_is_told()
    {
        using var temp = new TempDirectory("oshuffle-mapout");
        Assert.Null(MapOutputCommit.WinnerOf(temp.Path, 2));
        Assert.Equal(1, MapOutputCommit.Commit(temp.Path, 2, 1));
        Assert.Equal(1, MapOutputCommit.Commit(temp.Path, 2, 0));
        Assert.Equal(1, MapOutputCommit.WinnerOf(temp.Path, 2));
        Assert.Equal(0, MapOutputCommit.Commit(temp.Path, 3, 0));
    }
}
