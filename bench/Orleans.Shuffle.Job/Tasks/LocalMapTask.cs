using System.Diagnostics;
using Orleans.Shuffle.Job.LocalShuffle;

namespace Orleans.Shuffle.Job.Tasks;

/// <summary>
/// A map task of the local shuffle (--shuffle local): the same records as on the grid
/// (<see cref="MapRecords"/>), written to this attempt's own data file and index
/// (<see cref="MapOutputWriter"/>), then committed: the first attempt of the map to commit wins
/// (<see cref="MapOutputCommit"/>), as with the grid's MapperEnd.
/// </summary>
internal static class LocalMapTask
{
    public static async Task<MapTaskResult> RunAsync(MapTaskSettings s, TaskReporter reporter, CancellationToken ct)
    {
        string directory = s.Local?.Directory ?? throw new ArgumentException("A local map task needs its shuffle directory.", nameof(s));
        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(directory);
        using var output = new MapOutputWriter(LocalShuffleFiles.DataPath(directory, s.MapId, s.AttemptId), s.NumPartitions);
        var (tallies, bytes) = await MapRecords.GenerateAsync(s, output, reporter, ct).ConfigureAwait(false);

        output.Complete(LocalShuffleFiles.IndexPath(directory, s.MapId, s.AttemptId));
        int winner = MapOutputCommit.Commit(directory, s.MapId, s.AttemptId);
        reporter.Progress(bytes);
        // Segments stand in for pushed batches; nothing is pushed over a network, so no push requests.
        return new MapTaskResult(
            s.MapId, s.AttemptId, s.Records, bytes, winner == s.AttemptId, winner, AllMapsEnded: false,
            output.RecordsWritten, output.BytesWritten, output.SegmentsWritten, PushRequests: 0,
            stopwatch.Elapsed.TotalSeconds, MapRecords.NonEmpty(tallies));
    }
}
