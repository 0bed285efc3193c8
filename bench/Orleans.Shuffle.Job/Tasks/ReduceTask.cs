using System.Diagnostics;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Job.Tasks;

/// <summary>
/// A reduce task, run inside an executor: reads each of its partitions in full through a
/// <see cref="ShuffleReader"/> and reports per-partition counts and checksums. It does not sort or
/// aggregate: the point is to prove the grid returned exactly what the maps wrote.
/// </summary>
internal static class ReduceTask
{
    public static async Task<ReduceTaskResult> RunAsync(GridClient client, ReduceTaskSettings s, TaskReporter reporter, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        var partitions = new List<PartitionTally>(s.Partitions.Count);
        long records = 0, bytes = 0, batchesRead = 0, duplicates = 0, losing = 0, bytesFetched = 0, failovers = 0;
        await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
        foreach (int partition in s.Partitions)
        {
            var reader = client.CreateReader(s.AppId, s.ShuffleId, partition);
            var tally = new PartitionChecksum();
            try
            {
                await foreach (var record in reader.ReadRecordsAsync(ct).ConfigureAwait(false))
                {
                    // The record is only valid until the next MoveNext: hash it now, keep nothing.
                    tally.Add(record.Span);
                    bytes += record.Length;
                    // Mid-partition: the reader has chunks in flight and more to fetch.
                    await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
                    if ((tally.Records & 1023) == 0) reporter.Tick(bytes);
                }
            }
            catch (GridException e)
            {
                // The driver tells "shuffle data lost" (rerun the stage) from other failures by the code, and needs the partition.
                throw new PartitionTaskException([partition], e);
            }
            failovers += reader.Failovers;
            records += tally.Records;
            batchesRead += reader.BatchesRead;
            duplicates += reader.DuplicateBatchesSkipped;
            losing += reader.LosingAttemptBatchesSkipped;
            bytesFetched += reader.BytesFetched;
            partitions.Add(PartitionTally.From(partition, tally));
            reporter.Progress(bytes);
        }

        return new ReduceTaskResult(
            s.ReducerId, records, bytes, batchesRead, duplicates, losing, bytesFetched,
            stopwatch.Elapsed.TotalSeconds, partitions, Failovers: failovers);
    }
}
