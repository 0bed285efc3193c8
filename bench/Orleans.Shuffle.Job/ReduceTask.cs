using System.Diagnostics;
using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Job;

/// <summary>
/// A reduce task, run in its own worker process: reads each of its partitions in full through a
/// <see cref="ShuffleReader"/> and reports per-partition counts and checksums. It does not sort or
/// aggregate: the point is to prove the grid returned exactly what the maps wrote.
/// </summary>
internal static class ReduceTask
{
    public static Task<int> RunAsync(ReduceTaskSettings settings, CancellationToken ct) =>
        WorkerHost.RunAsync($"reduce-{settings.ReducerId}", settings.ParentPid, () => RunCoreAsync(settings, ct));

    private static async Task RunCoreAsync(ReduceTaskSettings s, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        var progress = new ProgressTicker();
        var options = new GridClientOptions
        {
            Gateways = [.. s.Gateways],
            ClientName = $"{s.AppId}-reduce-{s.ReducerId}",
        };
        await using var client = await GridClient.ConnectAsync(options, ct).ConfigureAwait(false);

        var partitions = new List<PartitionTally>(s.Partitions.Count);
        long records = 0, bytes = 0, batchesRead = 0, duplicates = 0, losing = 0, bytesFetched = 0;
        foreach (int partition in s.Partitions)
        {
            var reader = client.CreateReader(s.AppId, s.ShuffleId, partition);
            var tally = new PartitionChecksum();
            await foreach (var record in reader.ReadRecordsAsync(ct).ConfigureAwait(false))
            {
                // The record is only valid until the next MoveNext: hash it now, keep nothing.
                tally.Add(record.Span);
                bytes += record.Length;
                if ((tally.Records & 1023) == 0) progress.Tick(bytes);
            }
            records += tally.Records;
            batchesRead += reader.BatchesRead;
            duplicates += reader.DuplicateBatchesSkipped;
            losing += reader.LosingAttemptBatchesSkipped;
            bytesFetched += reader.BytesFetched;
            partitions.Add(PartitionTally.From(partition, tally));
            WorkerProtocol.WriteProgress(bytes);
        }

        WorkerProtocol.WriteResult(new ReduceTaskResult(
            s.ReducerId, records, bytes, batchesRead, duplicates, losing, bytesFetched,
            stopwatch.Elapsed.TotalSeconds, partitions));
    }
}
