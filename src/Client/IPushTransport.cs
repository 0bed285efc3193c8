using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Client;

/// <summary>What a <see cref="ShuffleWriter"/> needs from the grid; a seam so the writer can be tested without a silo.</summary>
internal interface IPushTransport
{
    /// <summary>
    /// Sends one PushData to the data endpoint at host:port and waits for its reply: every batch
    /// stored, and the partition epochs that crossed the split threshold. The body is serialized before
    /// the returned task completes; its buffers are not read afterwards. Await the result once.
    /// </summary>
    ValueTask<PushReply> PushAsync(string host, int port, PushDataBody body, CancellationToken cancellationToken);

    /// <summary>Asks the application's ShuffleGrain for newer locations of some partition epochs, aligned with <paramref name="partitions"/>.</summary>
    Task<IReadOnlyList<PartitionLocation>> ReviveAsync(string appId, int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos, CancellationToken cancellationToken);

    /// <summary>Tells the application's ShuffleGrain that a map attempt ended.</summary>
    Task<MapperEndReply> MapperEndAsync(string appId, int shuffleId, int mapId, int attemptId, CancellationToken cancellationToken);

    /// <summary>A push failed for good: cached push locations of the shuffle may be stale.</summary>
    void OnPushFailed(string appId, int shuffleId);
}
