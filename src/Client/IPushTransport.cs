using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Client;

/// <summary>What a <see cref="ShuffleWriter"/> needs from the grid; a seam so the writer can be tested without a silo.</summary>
internal interface IPushTransport
{
    /// <summary>
    /// Sends one PushData to the silo at host:port and waits for its reply: every batch stored, and
    /// the partition epochs that crossed the split threshold. The body is serialized before the
    /// returned task completes; its buffers are not read afterwards.
    /// </summary>
    Task<PushReply> PushAsync(string host, int port, PushDataBody body, CancellationToken cancellationToken);

    /// <summary>Asks the application's ShuffleGrain for newer locations of some partition epochs (one per partition asked).</summary>
    Task<IReadOnlyList<PartitionLocation>> ReviveAsync(Revive request, CancellationToken cancellationToken);

    /// <summary>Sends MapperEnd to the application's ShuffleGrain.</summary>
    Task<MapperEndReply> MapperEndAsync(MapperEnd request, CancellationToken cancellationToken);

    /// <summary>A push failed for good: cached push locations of the shuffle may be stale.</summary>
    void OnPushFailed(string appId, int shuffleId);
}
