using System.Buffers;
using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Silo.Logging;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Silo.Runtime;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.Networking;

/// <summary>
/// Dispatches each request frame. The data path (PushData, FetchChunk) and cheap queries run inline
/// in the connection's read loop, in order; push handling waits there while the silo's memory is
/// over budget, which stops reading the socket and slows the pusher through TCP. Grain calls and
/// silo-to-silo calls run in the background with a copy of their body. ShuffleGrain requests that
/// reach a silo other than the grain's go on to the grain's silo (a gateway forward, as in Orleans).
/// </summary>
public sealed class RequestRouter(
    LocalSilo local,
    ClusterMembership membership,
    PartitionCatalog partitions,
    ShuffleGrainLocator locator,
    ReplicaForwarder replication,
    MembershipAgent membershipAgent,
    SiloConnectionPool connections,
    ILogger<RequestRouter> logger)
{
    /// <summary>Handles one frame. Returns true when the connection must close.</summary>
    internal async ValueTask<bool> HandleAsync(Frame frame, GridSession session)
    {
        var header = frame.Header;
        if (header.IsResponse)
        {
            await session.Responder.ReplyErrorAsync(header, ErrorCode.MalformedFrame, "A silo accepts requests only.").ConfigureAwait(false);
            return false;
        }
        if (!session.Handshaken)
        {
            return await HandshakeAsync(frame, session).ConfigureAwait(false);
        }

        try
        {
            switch (header.Type)
            {
                case MessageType.PushData:
                case MessageType.ReplicateData:
                    var (reply, forwards) = Append(frame.Body, replica: header.Type == MessageType.ReplicateData);
                    if (forwards.Count == 0)
                    {
                        await session.Responder.ReplyAsync(header, reply).ConfigureAwait(false);
                    }
                    else
                    {
                        // The batches are buffered here; the ack waits for the replicas, but the next
                        // push on this connection need not: replication is pipelined, with a bound.
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
                    await partitions.Budget.WaitUntilAcceptingAsync(session.Closing).ConfigureAwait(false);
                    return false;
                case MessageType.FetchChunk:
                    await FetchChunkAsync(header, Read<FetchChunk>(frame.Body), session).ConfigureAwait(false);
                    return false;
                case MessageType.Ping:
                    await session.Responder.ReplyAsync(header, default(Empty)).ConfigureAwait(false);
                    return false;
                case MessageType.Hello:
                    throw new GridException(ErrorCode.InvalidArgument, "Hello was already received on this connection.");
                case MessageType.GetClusterView:
                    await session.Responder.ReplyAsync(header, ClusterView()).ConfigureAwait(false);
                    return false;
                case MessageType.MembershipGossip:
                    membershipAgent.RequestRefresh();
                    await session.Responder.ReplyAsync(header, default(Empty)).ConfigureAwait(false);
                    return false;
                case MessageType.GetSiloStats:
                    await session.Responder.ReplyAsync(header, new SiloStats(local.ToInfo())).ConfigureAwait(false);
                    return false;
                case MessageType.ReservePartitions:
                    var reserve = Read<ReservePartitions>(frame.Body);
                    partitions.Reserve(reserve.AppId, reserve.ShuffleId, reserve.Partitions);
                    await session.Responder.ReplyAsync(header, default(Empty)).ConfigureAwait(false);
                    return false;
                case MessageType.CommitPartitions:
                    var commit = Read<PartitionRefs>(frame.Body);
                    InBackground(session, header, async () => await partitions.CommitAsync(commit.AppId, commit.ShuffleId, commit.Partitions).ConfigureAwait(false));
                    return false;
                case MessageType.DestroyShuffle:
                    var destroy = Read<ShuffleRequest>(frame.Body);
                    InBackground(session, header, async () =>
                    {
                        await partitions.DestroyAsync(destroy.AppId, destroy.ShuffleId).ConfigureAwait(false);
                        return default(Empty);
                    });
                    return false;
                case var type when MessageTypes.IsShuffleGrainRequest(type):
                    RouteToShuffleGrain(frame, session);
                    return false;
                default:
                    throw new GridException(ErrorCode.UnknownMessageType, $"Message type {(ushort)header.Type} is not known to protocol version {ProtocolConstants.Version}.");
            }
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
        if (header.Type != MessageType.Hello)
        {
            session.CloseReason = $"{header.Type} before Hello";
            await session.Responder.ReplyErrorAsync(header, ErrorCode.HandshakeRequired, "The first frame on a connection must be Hello.").ConfigureAwait(false);
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
                ? "Not an Orleans.Shuffle client: bad magic in Hello."
                : $"Protocol version {hello.Version} is not supported; this silo speaks version {ProtocolConstants.Version}.";
            await session.Responder.ReplyErrorAsync(header, ErrorCode.VersionMismatch, message).ConfigureAwait(false);
            return true;
        }
        session.Handshaken = true;
        session.PeerName = hello.PeerName;
        await session.Responder.ReplyAsync(header, new HelloOk(ProtocolConstants.Version, local.IsBound ? local.Address.Identity : "", local.Name)).ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Appends every batch of a push to its PartitionGrain, synchronously, while the body is still in
    /// the connection's buffer. A primary collects the batches its replicas need and the partitions
    /// that crossed the split threshold; a replica (ReplicateData) only appends.
    /// </summary>
    private (PushReply Reply, IReadOnlyList<ReplicaPush> Forwards) Append(ReadOnlySequence<byte> body, bool replica)
    {
        var reader = new WireReader(body);
        var (appId, shuffleId, count) = PushData.ReadHeader(ref reader);
        IdValidator.ValidateAppId(appId);
        IdValidator.ValidateShuffleId(shuffleId);
        var expectedRole = replica ? PartitionRole.Replica : PartitionRole.Primary;
        var forwards = new ReplicaPushBuilder(appId, shuffleId);
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
                var grain = partitions.Find(new PartitionKey(appId, shuffleId, partitionId, epoch));
                if (grain is null || grain.Role != expectedRole)
                    throw new GridException(ErrorCode.UnknownPartition, $"Partition {appId}/{shuffleId}/{partitionId}-{epoch} has no {expectedRole.ToString().ToLowerInvariant()} on this silo.");
                grain.Append(batch);
                if (replica) continue;
                if (grain.Peer is { } peer) forwards.Add(peer, partitionId, epoch, batch);
                if (grain.File.Length >= partitions.SplitThresholdBytes && !(splits ??= []).Contains(new PartitionRef(partitionId, epoch)))
                    splits.Add(new PartitionRef(partitionId, epoch));
            }
            reader.EnsureEnd();
        }
        catch
        {
            forwards.Dispose();
            throw;
        }
        return (splits is null ? PushReply.None : new PushReply(splits), forwards.Build());
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

    private async Task FetchChunkAsync(FrameHeader header, FetchChunk request, GridSession session)
    {
        IdValidator.ValidateAppId(request.AppId);
        IdValidator.ValidatePartition(request.PartitionId, request.Epoch);
        var grain = partitions.Find(new PartitionKey(request.AppId, request.ShuffleId, request.PartitionId, request.Epoch))
            ?? throw new GridException(ErrorCode.UnknownPartition, $"Partition {request.AppId}/{request.ShuffleId}/{request.PartitionId}-{request.Epoch} is not on this silo.");
        var (buffer, length) = grain.File.ReadChunk(request.ChunkIndex, request.StartMap, request.EndMap);
        try
        {
            await session.Responder.ReplyRawAsync(header, buffer.AsMemory(0, length)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private ClusterView ClusterView() => membership.ToView(entry =>
        local.IsBound && entry.SiloAddress == local.Address ? local.ToInfo() : ClusterMembership.Describe(entry));

    /// <summary>Serves a ShuffleGrain request where the grain lives: here, or on the silo the locator names.</summary>
    private void RouteToShuffleGrain(Frame frame, GridSession session)
    {
        var header = frame.Header;
        var body = frame.Body.ToArray(); // the read loop moves on; background work needs its own copy
        var probe = new WireReader(new ReadOnlySequence<byte>(body));
        string appId = probe.ReadString();
        IdValidator.ValidateAppId(appId);
        bool forwarded = (header.Flags & FrameFlags.Forwarded) != 0;
        InBackgroundRaw(session, header, async () =>
        {
            var route = await locator.ResolveAsync(appId, forwarded).ConfigureAwait(false);
            return route.Remote is { } host
                ? await ForwardAsync(host, header.Type, body).ConfigureAwait(false)
                : await ServeShuffleGrainAsync(route.Local!, appId, header.Type, body).ConfigureAwait(false);
        });
    }

    private async Task<byte[]> ForwardAsync(MembershipEntry owner, MessageType type, byte[] body)
    {
        using var reply = await connections.SendAsync(owner.SiloAddress.Host, owner.ProxyPort, type, new RawBody(body), CancellationToken.None, FrameFlags.Forwarded)
            .ConfigureAwait(false);
        return reply.Memory.ToArray();
    }

    /// <summary>Runs a ShuffleGrain request on the local activation.</summary>
    private async Task<byte[]> ServeShuffleGrainAsync(ShuffleGrain grain, string appId, MessageType type, byte[] body)
    {
        using var output = new PooledBufferWriter();
        var writer = new WireWriter(output);
        var reader = new WireReader(new ReadOnlySequence<byte>(body));
        ValidateShuffleGrainBody(type, body);
        if (type != MessageType.RegisterApplication && type != MessageType.RegisterShuffle && !grain.IsRegistered)
        {
            // An activation with no stored state: the application never registered, or was deleted.
            await locator.DeactivateAsync(grain).ConfigureAwait(false);
            if (type is MessageType.UnregisterApplication or MessageType.UnregisterShuffle) return [];
            throw new GridException(ErrorCode.UnknownApplication, $"Application {appId} is not registered (or its heartbeat lapsed and its data was deleted).");
        }
        switch (type)
        {
            case MessageType.RegisterApplication:
                Read<AppRequest>(ref reader);
                await grain.RegisterApplicationAsync(CancellationToken.None).ConfigureAwait(false);
                break;
            case MessageType.ApplicationHeartbeat:
                Read<AppRequest>(ref reader);
                grain.Touch();
                break;
            case MessageType.UnregisterApplication:
                Read<AppRequest>(ref reader);
                await grain.UnregisterApplicationAsync("unregistered by the driver", CancellationToken.None).ConfigureAwait(false);
                await locator.DeactivateAsync(grain).ConfigureAwait(false);
                break;
            case MessageType.RegisterShuffle:
                var register = Read<RegisterShuffle>(ref reader);
                var locations = await grain.RegisterShuffleAsync(register.ShuffleId, register.NumMaps, register.NumPartitions, register.Replicas, CancellationToken.None)
                    .ConfigureAwait(false);
                new ShuffleLocations(locations).Write(writer);
                break;
            case MessageType.Revive:
                var revive = Read<Revive>(ref reader);
                var revived = await grain.ReviveAsync(revive.ShuffleId, revive.Partitions, revive.ExcludedSilos, CancellationToken.None).ConfigureAwait(false);
                new ShuffleLocations(revived).Write(writer);
                break;
            case MessageType.MapperEnd:
                var end = Read<MapperEnd>(ref reader);
                var reply = await grain.MapperEndAsync(end.ShuffleId, end.MapId, end.AttemptId, CancellationToken.None).ConfigureAwait(false);
                reply.Write(writer);
                break;
            case MessageType.GetReducerFileGroup:
                var group = Read<ShuffleRequest>(ref reader);
                (await grain.GetReducerFileGroupAsync(group.ShuffleId, CancellationToken.None).ConfigureAwait(false)).Write(writer);
                break;
            case MessageType.UnregisterShuffle:
                var shuffle = Read<ShuffleRequest>(ref reader);
                await grain.UnregisterShuffleAsync(shuffle.ShuffleId, CancellationToken.None).ConfigureAwait(false);
                break;
            default:
                throw new GridException(ErrorCode.UnknownMessageType, $"{type} is not a ShuffleGrain request.");
        }
        return output.WrittenSpan.ToArray();
    }


    /// <summary>A malformed request is refused as such before anything else is said about it.</summary>
    private static void ValidateShuffleGrainBody(MessageType type, byte[] body)
    {
        var sequence = new ReadOnlySequence<byte>(body);
        _ = type switch
        {
            MessageType.RegisterApplication or MessageType.ApplicationHeartbeat or MessageType.UnregisterApplication => (object)Read<AppRequest>(sequence),
            MessageType.RegisterShuffle => Read<RegisterShuffle>(sequence),
            MessageType.Revive => Read<Revive>(sequence),
            MessageType.MapperEnd => Read<MapperEnd>(sequence),
            MessageType.GetReducerFileGroup or MessageType.UnregisterShuffle => Read<ShuffleRequest>(sequence),
            _ => throw new GridException(ErrorCode.UnknownMessageType, $"{type} is not a ShuffleGrain request."),
        };
    }

    private static T Read<T>(ReadOnlySequence<byte> body) where T : IWireMessage<T>
    {
        var reader = new WireReader(body);
        return Read<T>(ref reader);
    }

    private static T Read<T>(ref WireReader reader) where T : IWireMessage<T>
    {
        var value = T.Read(ref reader);
        reader.EnsureEnd();
        return value;
    }

    private void InBackground<T>(GridSession session, FrameHeader header, Func<Task<T>> work) where T : IWireMessage<T> =>
        session.RunInBackground(async () =>
        {
            try
            {
                var reply = await work().ConfigureAwait(false);
                await session.Responder.ReplyAsync(header, reply).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await ReplyFailureAsync(session, header, e).ConfigureAwait(false);
            }
        });

    private void InBackgroundRaw(GridSession session, FrameHeader header, Func<Task<byte[]>> work) =>
        session.RunInBackground(async () =>
        {
            try
            {
                var reply = await work().ConfigureAwait(false);
                await session.Responder.ReplyRawAsync(header, reply).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await ReplyFailureAsync(session, header, e).ConfigureAwait(false);
            }
        });

    private async Task ReplyFailureAsync(GridSession session, FrameHeader header, Exception error)
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
                await session.Responder.ReplyErrorAsync(header, ErrorCode.Internal, $"{header.Type} failed on silo {local.Name}: {error.Message}").ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The connection is gone; nobody is waiting for the reply.
        }
    }
}
