using System.Diagnostics;
using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Job;

/// <summary>
/// A map task, run in its own worker process: generates its share of the records, partitions and
/// pushes them through a <see cref="ShuffleWriter"/>, and reports per-partition counts and
/// checksums so the driver knows exactly what every partition must contain.
/// </summary>
internal static class MapTask
{
    public static Task<int> RunAsync(MapTaskSettings settings, CancellationToken ct) =>
        WorkerHost.RunAsync($"map-{settings.MapId}", settings.ParentPid, () => RunCoreAsync(settings, ct));

    private static async Task RunCoreAsync(MapTaskSettings s, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        var generator = new RecordGenerator(s.Seed, s.MapId, s.RecordSize);
        var partitioner = new RecordPartitioner(s.NumPartitions, s.Skew);
        var tallies = new PartitionChecksum[s.NumPartitions];
        var record = new byte[s.RecordSize];
        var progress = new ProgressTicker();
        var pause = s.Pause.ToPausePoint();

        await using var connected = await s.Grid.ConnectAsync($"{s.AppId}-map-{s.MapId}-{s.AttemptId}", s.Replicas, ct).ConfigureAwait(false);
        var client = connected.Client;
        await using var writer = await client.CreateWriterAsync(
            s.AppId, s.ShuffleId, s.NumMaps, s.NumPartitions, s.MapId, s.AttemptId, ct).ConfigureAwait(false);

        long bytes = 0;
        if (pause.Due(bytes)) await pause.PauseAsync(bytes, ct).ConfigureAwait(false);
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
            if (pause.Due(bytes)) await pause.PauseAsync(bytes, ct).ConfigureAwait(false);
            if ((i & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
                progress.Tick(bytes);
            }
        }

        var end = await writer.CloseAsync(ct).ConfigureAwait(false);
        WorkerProtocol.WriteProgress(bytes);

        var partitions = new List<PartitionTally>();
        for (int p = 0; p < tallies.Length; p++)
        {
            // Only non-empty partitions: with many partitions and few records most are empty.
            if (tallies[p].Records > 0) partitions.Add(PartitionTally.From(p, tallies[p]));
        }
        WorkerProtocol.WriteResult(new MapTaskResult(
            s.MapId, s.AttemptId, s.Records, bytes, end.Won, end.WinningAttempt, end.AllMapsEnded,
            writer.RecordsWritten, writer.BytesWritten, writer.BatchesPushed, writer.PushRequests,
            stopwatch.Elapsed.TotalSeconds, partitions, Revives: writer.Revives));
    }
}
