using System.Buffers;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using Orleans.Shuffle.Job.LocalShuffle;

namespace Orleans.Shuffle.Job.Tasks;

/// <summary>
/// A reduce task of the local shuffle (--shuffle local): for each of its partitions, reads that
/// partition's segments from the winning attempt's data file of every map, one read per segment into
/// one pooled buffer, and tallies the records exactly as the grid's reducer does, so "verified"
/// means the same for both shuffles.
/// </summary>
internal static class LocalReduceTask
{
    public static async Task<ReduceTaskResult> RunAsync(ReduceTaskSettings s, TaskReporter reporter, CancellationToken ct)
    {
        var local = s.Local ?? throw new ArgumentException("A local reduce task needs the shuffle directory.", nameof(s));
        var winners = local.WinningAttempts ?? throw new ArgumentException("A local reduce task needs the winning attempt of every map.", nameof(s));
        var stopwatch = Stopwatch.StartNew();

        // Each map's index is read once per reducer, not once per partition.
        var indexes = new MapOutputIndex[winners.Count];
        var files = new SafeFileHandle?[winners.Count];
        byte[]? buffer = null;
        var partitions = new List<PartitionTally>(s.Partitions.Count);
        long records = 0, bytes = 0, segments = 0, bytesRead = 0;
        try
        {
            int largest = 0;
            for (int map = 0; map < winners.Count; map++)
            {
                indexes[map] = MapOutputIndex.Read(LocalShuffleFiles.IndexPath(local.Directory, map, winners[map]));
                files[map] = File.OpenHandle(LocalShuffleFiles.DataPath(local.Directory, map, winners[map]), FileMode.Open, FileAccess.Read, FileShare.Read);
                foreach (int partition in s.Partitions)
                    foreach (var segment in indexes[map].SegmentsOf(partition)) largest = Math.Max(largest, segment.Length);
            }
            buffer = ArrayPool<byte>.Shared.Rent(Math.Max(largest, 1));

            await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
            foreach (int partition in s.Partitions)
            {
                var tally = new PartitionChecksum();
                for (int map = 0; map < winners.Count; map++)
                {
                    foreach (var segment in indexes[map].SegmentsOf(partition))
                    {
                        ReadSegment(files[map]!, segment, buffer);
                        var read = Tally(buffer.AsSpan(0, segment.Length));
                        tally.Add(read);
                        bytes += read.Bytes;
                        bytesRead += segment.Length;
                        segments++;
                        // Between segments: the pause points of a local reduce are checked once per read.
                        await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
                        ct.ThrowIfCancellationRequested();
                        reporter.Tick(bytes);
                    }
                }
                records += tally.Records;
                partitions.Add(PartitionTally.From(partition, tally));
                reporter.Progress(bytes);
            }
        }
        finally
        {
            foreach (var file in files) file?.Dispose();
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }

        return new ReduceTaskResult(
            s.ReducerId, records, bytes, BatchesRead: segments, DuplicateBatchesSkipped: 0, LosingAttemptBatchesSkipped: 0,
            BytesFetched: bytesRead, stopwatch.Elapsed.TotalSeconds, partitions);
    }

    private static void ReadSegment(SafeFileHandle file, MapOutputSegment segment, byte[] buffer)
    {
        var destination = buffer.AsSpan(0, segment.Length);
        // One read normally; the loop only covers a short read, bounded by the segment's length.
        for (int done = 0; done < destination.Length;)
        {
            int n = RandomAccess.Read(file, destination[done..], segment.Offset + done);
            if (n == 0) throw new InvalidDataException($"The data file ended inside segment {segment}.");
            done += n;
        }
    }

    /// <summary>The records of one segment, tallied as <see cref="ReduceTask"/> tallies what the grid returns.</summary>
    private static PartitionChecksum Tally(ReadOnlySpan<byte> segment)
    {
        var tally = new PartitionChecksum();
        var frames = new RecordFrames.Reader(segment);
        while (frames.TryRead(out var record)) tally.Add(record);
        return tally;
    }
}
