using System.Diagnostics;
using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Job.Tasks;

/// <summary>
/// A map task, run inside an executor: generates its share of the records, partitions and pushes
/// them through a <see cref="ShuffleWriter"/>, and reports per-partition counts and checksums so the
/// driver knows exactly what every partition must contain.
/// </summary>
internal static class MapTask
{
    public static async Task<MapTaskResult> RunAsync(GridClient client, MapTaskSettings s, TaskReporter reporter, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        var generator = new RecordGenerator(s.Seed, s.MapId, s.RecordSize);
        var partitioner = new RecordPartitioner(s.NumPartitions, s.Skew);
        var tallies = new PartitionChecksum[s.NumPartitions];
        var record = new byte[s.RecordSize];

        await using var writer = await client.CreateWriterAsync(s.AppId, s.ShuffleId, s.MapId, s.AttemptId, ct).ConfigureAwait(false);

        long bytes = 0;
        await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
        for (long i = 0; i < s.Records; i++)
        {
            generator.NextRecord(record);
            int partition = partitioner.PartitionOf(record);
            tallies[partition].Add(record);
            if (!writer.TryWrite(partition, record))
            {
                // The writer's buffers are full: let pushes drain, then retry. A record too large
                // for any buffer goes through the async path, which copes with every size.
                await writer.FlushPendingAsync(ct).ConfigureAwait(false);
                if (!writer.TryWrite(partition, record)) await writer.WriteAsync(partition, record, ct).ConfigureAwait(false);
            }
            bytes += record.Length;
            // Mid-map: whatever the writer has pushed so far is on the grid, some pushes may be in
            // flight, the rest of the records are still to come.
            await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
            if ((i & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
                reporter.Tick(bytes);
            }
        }

        var end = await writer.CloseAsync(ct).ConfigureAwait(false);
        reporter.Progress(bytes);

        var partitions = new List<PartitionTally>();
        for (int p = 0; p < tallies.Length; p++)
        {
            // Only non-empty partitions: with many partitions and few records most are empty.
            if (tallies[p].Records > 0) partitions.Add(PartitionTally.From(p, tallies[p]));
        }
        return new MapTaskResult(
            s.MapId, s.AttemptId, s.Records, bytes, end.Won, end.WinningAttempt, end.AllMapsEnded,
            writer.RecordsWritten, writer.BytesWritten, writer.BatchesPushed, writer.PushRequests,
            stopwatch.Elapsed.TotalSeconds, partitions, Revives: writer.Revives);
    }
}
