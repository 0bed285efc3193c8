using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Silo.Logging;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Serves the data plane's requests on one connection: Hello, PushData, ReplicateData and
/// FetchChunk (docs/protocol.md). Pushes and fetches run inline in the connection's read loop, in
/// order, against the partition copies this silo hosts (<see cref="PartitionCatalog"/>); push
/// handling waits there while the silo's memory is over budget, which stops reading the socket and
/// slows the pusher through TCP. A primary's acknowledgement waits for its replica in the
/// background, with a bound per connection, so replication is pipelined.
/// </summary>
public sealed class DataRequestRouter(
    PartitionCatalog partitions, ReplicaForwarder replication, DataEndpoint endpoint, DataPlaneAuthenticator authenticator, ILogger<DataRequestRouter> logger)
{
    /// <summary>Handles one frame. Returns true when the connection must close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<bool> HandleAsync(Frame frame, GridSession session)
    {
        var header = frame.Header;
        // Id 0 marks connection-level errors: a request with it could not be told apart from one, so the stream is suspect.
        if (header.RequestId == 0)
        {
            session.CloseReason = "request id 0";
            await session.Responder.ReplyErrorAsync(header, GridErrorCode.MalformedFrame, "Request id 0 is reserved for connection-level errors.").ConfigureAwait(false);
            return true;
        }
        // The handshake comes first: anything before Hello, a response frame included, closes the connection.
        if (!session.Handshaken)
        {
            return await HandshakeAsync(frame, session).ConfigureAwait(false);
        }
        if (header.IsResponse || header.IsError)
        {
            await session.Responder.ReplyErrorAsync(header, GridErrorCode.MalformedFrame, "A silo's data endpoint accepts requests only.").ConfigureAwait(false);
            return false;
        }

        try
        {
            switch (header.Type)
            {
                case MessageType.PushData:
                case MessageType.ReplicateData:
                    await PushAsync(frame, session).ConfigureAwait(false);
                    return false;
                case MessageType.FetchChunk:
                    await FetchChunkAsync(header, Read<FetchChunk>(frame.Body), session).ConfigureAwait(false);
                    return false;
                case MessageType.Authenticate:
                    return await AuthenticateAsync(header, Read<Authenticate>(frame.Body), session).ConfigureAwait(false);
                case MessageType.Hello:
                    throw new GridException(GridErrorCode.InvalidArgument, "Hello was already received on this connection.");
                default:
                    throw new GridException(GridErrorCode.UnknownMessageType,
                        $"Message type {(ushort)header.Type} is not known to the data plane of protocol version {ProtocolConstants.Version}.");
            }
        }
        catch (HalfSentReplyException e)
        {
            // Half a reply is on the wire: nothing after it could be parsed.
            SiloLog.RequestFailed(logger, e, header.Type, session.Remote);
            session.CloseReason = e.Message;
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await ReplyFailureAsync(session, header, e).ConfigureAwait(false);
            return false;
        }
    }

    private async ValueTask<bool> HandshakeAsync(Frame frame, GridSession session)
    {
        var header = frame.Header;
        if (header.Type != MessageType.Hello || header.IsResponse)
        {
            session.CloseReason = $"{header.Type} before Hello";
            await session.Responder.ReplyErrorAsync(header, GridErrorCode.HandshakeRequired, "The first frame on a connection must be Hello.").ConfigureAwait(false);
            return true;
        }
        Hello hello;
        try
        {
            hello = Read<Hello>(frame.Body);
        }
        catch (GridException e)
        {
            session.CloseReason = "malformed Hello";
            await session.Responder.ReplyErrorAsync(header, e.Code, e.Message).ConfigureAwait(false);
            return true;
        }
        if (hello.Magic != ProtocolConstants.Magic || hello.Version != ProtocolConstants.Version)
        {
            session.CloseReason = $"protocol version {hello.Version} refused";
            string message = hello.Magic != ProtocolConstants.Magic
                ? $"Not an Orleans.Shuffle client: bad magic in Hello; this silo speaks protocol version {ProtocolConstants.Version}."
                : $"Protocol version {hello.Version} is not supported; this silo speaks version {ProtocolConstants.Version}.";
            await session.Responder.ReplyErrorAsync(header, GridErrorCode.VersionMismatch, message).ConfigureAwait(false);
            return true;
        }
        session.Handshaken = true;
        session.PeerName = hello.PeerName;
        session.Challenge = authenticator.NewChallenge();
        var self = endpoint.Bound.IsCompletedSuccessfully ? endpoint.Bound.Result : null;
        await session.Responder.ReplyAsync(header, new HelloOk(ProtocolConstants.Version, self?.Identity ?? "", self?.Name ?? "", session.Challenge)).ConfigureAwait(false);
        return false;
    }

    /// <summary>A proof that fails closes the connection: its peer holds no key worth another try on it.</summary>
    private async ValueTask<bool> AuthenticateAsync(FrameHeader header, Authenticate request, GridSession session)
    {
        var self = endpoint.Bound.IsCompletedSuccessfully ? endpoint.Bound.Result : null;
        try
        {
            authenticator.Authenticate(session, request, self?.Identity ?? "");
        }
        catch (GridException e)
        {
            SiloLog.RequestRefused(logger, header.Type, session.Remote, e.Code, e.Message);
            await session.Responder.ReplyErrorAsync(header, e.Code, e.Message).ConfigureAwait(false);
            // A wrong proof ends the connection; an application with no copy here (yet, or any more) does not.
            if (e.Code != GridErrorCode.Unauthorized) return false;
            session.CloseReason = $"authentication of {request.Kind} {request.Name} refused";
            return true;
        }
        await session.Responder.ReplyAsync(header, default(Empty)).ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Stores a push (or a replica's share of one) and acknowledges it: at once on a replica or an
    /// unreplicated primary, after the replicas hold the batches otherwise.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PushAsync(Frame frame, GridSession session)
    {
        var header = frame.Header;
        var (reply, forwards) = Append(frame.Body, header.Type, session);
        if (forwards.Count == 0) await session.Responder.ReplyAsync(header, reply).ConfigureAwait(false);
        else await StartReplicationAsync(session, header, reply, forwards).ConfigureAwait(false);
        await partitions.Budget.WaitUntilAcceptingAsync(session.Closing).ConfigureAwait(false);
    }

    /// <summary>
    /// The batches are buffered here; the ack waits for the replicas, but the next push on this
    /// connection need not: replication is pipelined, with a bound. A method of its own, so that a
    /// push without replicas does not allocate the closure.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask StartReplicationAsync(GridSession session, FrameHeader header, PushReply reply, IReadOnlyList<ReplicaPush> forwards)
    {
        try
        {
            await session.ReplicationSlots.WaitAsync(session.Closing).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            foreach (var forward in forwards) forward.Dispose();
            throw;
        }
        session.RunInBackground(() => ReplicateThenReplyAsync(session, header, reply, forwards));
    }

    /// <summary>
    /// Appends every batch of a push to its partition copy, synchronously, while the body is still in
    /// the connection's buffer. A primary collects the batches its replicas need and the partitions
    /// that crossed the split threshold; a replica (ReplicateData) only appends.
    /// </summary>
    private (PushReply Reply, IReadOnlyList<ReplicaPush> Forwards) Append(ReadOnlySequence<byte> body, MessageType type, GridSession session)
    {
        bool replica = type == MessageType.ReplicateData;
        var reader = new WireReader(body);
        var (appId, shuffleId, count) = PushData.ReadHeader(ref reader, session.AppIds);
        IdValidator.ValidateAppId(appId);
        var provedKey = authenticator.Authorize(session, appId, type);
        IdValidator.ValidateShuffleId(shuffleId);
        var expectedRole = replica ? PartitionRole.Replica : PartitionRole.Primary;
        // Only a primary with a replica needs the builder: most pushes to an unreplicated shuffle allocate none.
        ReplicaPushBuilder? forwards = null;
        List<PartitionRef>? splits = null;
        try
        {
            for (int i = 0; i < count; i++)
            {
                int partitionId = reader.ReadInt32();
                int epoch = reader.ReadInt32();
                int length = reader.ReadInt32();
                if (length < 0 || length > reader.Remaining) throw WireReader.Malformed($"batch length {length} in entry {i}");
                var batch = reader.ReadRaw(length);
                IdValidator.ValidatePartition(partitionId, epoch);
                var partition = partitions.Find(new PartitionKey(appId, shuffleId, partitionId, epoch));
                if (partition is null || partition.Role != expectedRole)
                    throw new GridException(GridErrorCode.UnknownPartition, $"Partition {appId}/{shuffleId}/{partitionId}-{epoch} has no {expectedRole.ToString().ToLowerInvariant()} on this silo.");
                DataPlaneAuthenticator.AuthorizeCopy(provedKey, partition);
                partition.Append(batch);
                if (replica) continue;
                if (partition.Replica is { } peer) (forwards ??= new ReplicaPushBuilder(appId, shuffleId)).Add(peer, partitionId, epoch, batch);
                if (partition.File.Length >= partitions.SplitThresholdBytes && !(splits ??= []).Contains(new PartitionRef(partitionId, epoch)))
                    splits.Add(new PartitionRef(partitionId, epoch));
            }
            reader.EnsureEnd();
        }
        catch
        {
            forwards?.Dispose();
            throw;
        }
        return (splits is null ? PushReply.None : new PushReply(splits), forwards?.Build() ?? []);
    }

    private async Task ReplicateThenReplyAsync(GridSession session, FrameHeader header, PushReply reply, IReadOnlyList<ReplicaPush> forwards)
    {
        try
        {
            await replication.ForwardAsync(forwards).ConfigureAwait(false);
            await session.Responder.ReplyAsync(header, reply).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await ReplyFailureAsync(session, header, e).ConfigureAwait(false);
        }
        finally
        {
            session.ReplicationSlots.Release();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FetchChunkAsync(FrameHeader header, FetchChunk request, GridSession session)
    {
        IdValidator.ValidateAppId(request.AppId);
        var provedKey = authenticator.Authorize(session, request.AppId, MessageType.FetchChunk);
        IdValidator.ValidateShuffleId(request.ShuffleId);
        IdValidator.ValidatePartition(request.PartitionId, request.Epoch);
        var partition = partitions.Find(new PartitionKey(request.AppId, request.ShuffleId, request.PartitionId, request.Epoch))
            ?? throw new GridException(GridErrorCode.UnknownPartition,
                $"Partition {request.AppId}/{request.ShuffleId}/{request.PartitionId}-{request.Epoch} is not on this silo.");
        DataPlaneAuthenticator.AuthorizeCopy(provedKey, partition);
        if (request.IsFullRange)
        {
            // The whole chunk: read from the file straight into the connection's buffers.
            using var chunk = partition.File.OpenChunk(request.ChunkIndex);
            await session.Responder.ReplyChunkAsync(header, chunk).ConfigureAwait(false);
            return;
        }
        // A map range (a skew split read) keeps some batches only: filter in a pooled buffer first.
        var (buffer, length) = partition.File.ReadChunk(request.ChunkIndex, request.StartMap, request.EndMap);
        try
        {
            await session.Responder.ReplyRawAsync(header, buffer.AsMemory(0, length)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static T Read<T>(ReadOnlySequence<byte> body) where T : IWireMessage<T> => WireMessage.ReadWhole<T>(body);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReplyFailureAsync(GridSession session, FrameHeader header, Exception error)
    {
        try
        {
            if (error is GridException grid)
            {
                SiloLog.RequestRefused(logger, header.Type, session.Remote, grid.Code, grid.Message);
                await session.Responder.ReplyErrorAsync(header, grid.Code, grid.Message).ConfigureAwait(false);
            }
            else
            {
                SiloLog.RequestFailed(logger, error, header.Type, session.Remote);
                await session.Responder.ReplyErrorAsync(header, GridErrorCode.Internal, $"{header.Type} failed: {error.Message}").ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The connection is gone; nobody is waiting for the reply.
        }
    }
}
