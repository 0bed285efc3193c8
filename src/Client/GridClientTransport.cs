using System.Runtime.CompilerServices;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// The real grid behind writers and readers: bytes over the client's shared data connections,
/// control calls to the application's ShuffleGrain.
/// </summary>
internal sealed class GridClientTransport(GridClient client, ConnectionPool pool, ShuffleGrainCalls grains) : IPushTransport, IChunkSource
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<PushReply> PushAsync(string host, int port, PushDataBody body, CancellationToken cancellationToken)
    {
        var connection = await pool.GetAsync(host, port, cancellationToken).ConfigureAwait(false);
        await connection.EnsureAuthenticatedAsync(client.DataCredential(body.AppId), cancellationToken).ConfigureAwait(false);
        // The batches go to the socket from the writer's buffers: only the push header is serialized,
        // and the reply is read from the connection's buffer.
        return await connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, body.Head, body.Entries, cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<PartitionLocation>> ReviveAsync(string appId, int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos, CancellationToken cancellationToken) =>
        client.ReviveAsync(appId, shuffleId, partitions, excludedSilos, cancellationToken);

    public Task<MapperEndReply> MapperEndAsync(string appId, int shuffleId, int mapId, int attemptId, CancellationToken cancellationToken) =>
        grains.CallAsync(appId, grain => grain.MapperEnd(shuffleId, mapId, attemptId), cancellationToken, client.Options.ControlAttemptTimeout);

    public void OnPushFailed(string appId, int shuffleId) => client.ForgetLocations(new ShuffleKey(appId, shuffleId));

    public Task<IndexedFileGroup> GetFileGroupAsync(string appId, int shuffleId, CancellationToken cancellationToken) =>
        client.GetIndexedFileGroupAsync(appId, shuffleId, cancellationToken);

    public Task ConfirmShuffleAsync(string appId, int shuffleId, CancellationToken cancellationToken) =>
        client.ConfirmShuffleAsync(appId, shuffleId, cancellationToken);

    public async Task<FetchedChunk> FetchChunkAsync(string host, int port, FetchChunk request, CancellationToken cancellationToken)
    {
        var connection = await pool.GetAsync(host, port, cancellationToken).ConfigureAwait(false);
        await connection.EnsureAuthenticatedAsync(client.DataCredential(request.AppId), cancellationToken).ConfigureAwait(false);
        var response = await connection.SendAsync(MessageType.FetchChunk, request, cancellationToken).ConfigureAwait(false);
        return new FetchedChunk(response.Memory, response);
    }
}
