using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>The real grid behind writers and readers: the client's shared connections and its ShuffleGrain router.</summary>
internal sealed class GridClientTransport(GridClient client, ConnectionPool pool, ShuffleGrainRouter router) : IPushTransport, IChunkSource
{
    public async Task<PushReply> PushAsync(string host, int port, PushDataBody body, CancellationToken cancellationToken)
    {
        var connection = await pool.GetAsync(host, port, cancellationToken).ConfigureAwait(false);
        using var reply = await connection.SendAsync(MessageType.PushData, body, cancellationToken, bodySizeHint: (int)body.Entries.Length + 512).ConfigureAwait(false);
        // An empty body is what a silo without splits (an older one) answers: nothing to split.
        return reply.Memory.Length == 0 ? PushReply.None : reply.Read<PushReply>();
    }

    public Task<IReadOnlyList<PartitionLocation>> ReviveAsync(Revive request, CancellationToken cancellationToken) =>
        client.ReviveAsync(request.AppId, request.ShuffleId, request.Partitions, request.ExcludedSilos, cancellationToken);

    public Task<MapperEndReply> MapperEndAsync(MapperEnd request, CancellationToken cancellationToken) =>
        router.SendAsync<MapperEnd, MapperEndReply>(request.AppId, MessageType.MapperEnd, request, cancellationToken);

    public void OnPushFailed(string appId, int shuffleId) => client.ForgetLocations(new ShuffleKey(appId, shuffleId));

    public Task<IndexedFileGroup> GetFileGroupAsync(string appId, int shuffleId, CancellationToken cancellationToken) =>
        client.GetIndexedFileGroupAsync(appId, shuffleId, cancellationToken);

    public async Task<FetchedChunk> FetchChunkAsync(string host, int port, FetchChunk request, CancellationToken cancellationToken)
    {
        var connection = await pool.GetAsync(host, port, cancellationToken).ConfigureAwait(false);
        var response = await connection.SendAsync(MessageType.FetchChunk, request, cancellationToken).ConfigureAwait(false);
        return new FetchedChunk(response.Memory, response);
    }
}
