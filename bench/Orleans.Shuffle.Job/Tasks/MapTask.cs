using System.Diagnostics;
using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Job.Tasks;

/// <summary>
/// A map task on the grid, run inside an executor: generates its share of the records
/// (<see cref="MapRecords"/>), pushes them through a <see cref="ShuffleWriter"/>, and reports
/// per-partition counts and checksums so the driver knows exactly what every partition must contain.
/// </summary>
internal static class MapTask
{
    public static async Task<MapTaskResult> RunAsync(GridClient client, MapTaskSettings s, TaskReporter reporter, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        await using var writer = await client.CreateWriterAsync(s.AppId, s.ShuffleId, s.MapId, s.AttemptId, ct).ConfigureAwait(false);
        var (tallies, bytes) = await MapRecords.GenerateAsync(s, new WriterOutput(writer), reporter, ct).ConfigureAwait(false);

        var end = await writer.CloseAsync(ct).ConfigureAwait(false);
        reporter.Progress(bytes);
        return new MapTaskResult(
            s.MapId, s.AttemptId, s.Records, bytes, end.Won, end.WinningAttempt, end.AllMapsEnded,
            writer.RecordsWritten, writer.BytesWritten, writer.BatchesPushed, writer.PushRequests,
            stopwatch.Elapsed.TotalSeconds, MapRecords.NonEmpty(tallies), Revives: writer.Revives,
            PayloadBytes: writer.PayloadBytes, StoredPayloadBytes: writer.StoredPayloadBytes);
    }

    private sealed class WriterOutput(ShuffleWriter writer) : IMapOutput
    {
        public bool TryWrite(int partition, ReadOnlySpan<byte> record) => writer.TryWrite(partition, record);

        public async ValueTask WriteAfterRefusalAsync(int partition, byte[] record, CancellationToken ct)
        {
            // The writer's buffers are full: let pushes drain, then retry. A record too large
            // for any buffer goes through the async path, which copes with every size.
            await writer.FlushPendingAsync(ct).ConfigureAwait(false);
            if (!writer.TryWrite(partition, record)) await writer.WriteAsync(partition, record, ct).ConfigureAwait(false);
        }
    }
}
