using System.Buffers.Binary;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>Bad input on one connection gets an error (or a closed connection) and harms nobody else.</summary>
[Collection(SiloCollection.Name)]
public sealed class GarbageResilienceTests : IAsyncLifetime
{
    private InProcessCluster _cluster = null!;

    private SiloHandle Silo => _cluster.Silos[0];

    public async Task InitializeAsync()
    {
        _cluster = await InProcessCluster.StartAsync(2, slotsPerSilo: 32, ["--Network:HandshakeTimeout=00:00:01"]);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static byte[] Header(int bodyLength, ushort type, byte flags = 0, byte reserved = 0, ulong requestId = 0)
    {
        var header = new byte[FrameHeader.Size];
        BinaryPrimitives.WriteInt32LittleEndian(header, bodyLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), type);
        header[6] = flags;
        header[7] = reserved;
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), requestId);
        return header;
    }

    [Fact]
    public async Task Random_bytes_close_the_connection_and_the_silo_keeps_serving()
    {
        var client = await _cluster.ConnectClientAsync();
        await client.RegisterApplicationAsync("app-before-garbage");

        var random = new Random(1234);
        var inputs = Enumerable.Range(0, 20).Select(_ =>
        {
            var bytes = new byte[random.Next(1, 4096)];
            random.NextBytes(bytes);
            return bytes;
        }).ToList();
        var garbage = inputs.Select(async (bytes, i) =>
        {
            await using var raw = await RawGridSocket.ConnectAsync(Silo.Host, Silo.Port);
            await raw.SendAsync(bytes);
            raw.ShutdownSend();
            Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(15)), $"connection {i} was left open");
        }).ToList();
        // Meanwhile a correct client works.
        await ShuffleData.RunSmallShuffleAsync(client, "app-during-garbage");
        await Task.WhenAll(garbage);
        // And afterwards, on a new client too.
        var after = await _cluster.ConnectClientAsync();
        await ShuffleData.RunSmallShuffleAsync(after, "app-after-garbage");
    }

    [Fact]
    public async Task An_oversized_length_gets_FrameTooLarge_and_a_closed_connection()
    {
        await using var raw = await RawGridSocket.ConnectAndHelloAsync(Silo.Host, Silo.Port);
        await raw.SendAsync(Header(ProtocolConstants.DefaultMaxFrameBodyBytes + 1, (ushort)MessageType.PushData, requestId: 5));
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(ErrorCode.FrameTooLarge, error.Code);
        Assert.Equal(0UL, header.RequestId);
        Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        await ShuffleData.RunSmallShuffleAsync(await _cluster.ConnectClientAsync(), "app-after-oversized");
    }

    [Fact]
    public async Task A_bad_header_before_Hello_gets_MalformedFrame_and_a_closed_connection()
    {
        await using var raw = await RawGridSocket.ConnectAsync(Silo.Host, Silo.Port);
        await raw.SendAsync(Header(0, (ushort)MessageType.Hello, flags: 0x40, requestId: 3));
        var (_, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(ErrorCode.MalformedFrame, error.Code);
        Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_first_frame_other_than_Hello_gets_HandshakeRequired_and_a_closed_connection()
    {
        await using var raw = await RawGridSocket.ConnectAsync(Silo.Host, Silo.Port);
        await raw.SendFrameAsync(MessageType.Ping, default(Empty), requestId: 7);
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(ErrorCode.HandshakeRequired, error.Code);
        Assert.Equal(7UL, header.RequestId);
        Assert.Equal(MessageType.Ping, header.Type);
        Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData(ProtocolConstants.Magic, 2)]
    [InlineData(ProtocolConstants.Magic, 0)]
    [InlineData(0x12345678u, ProtocolConstants.Version)]
    public async Task A_Hello_of_another_version_or_magic_gets_VersionMismatch_and_a_closed_connection(uint magic, ushort version)
    {
        await using var raw = await RawGridSocket.ConnectAsync(Silo.Host, Silo.Port);
        await raw.SendFrameAsync(MessageType.Hello, new Hello(magic, version, "old-client"), requestId: 1);
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(ErrorCode.VersionMismatch, error.Code);
        Assert.Equal(1UL, header.RequestId);
        Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_malformed_Hello_body_gets_MalformedFrame_and_a_closed_connection()
    {
        await using var raw = await RawGridSocket.ConnectAsync(Silo.Host, Silo.Port);
        await raw.SendRawFrameAsync(MessageType.Hello, [0x4F, 0x53], requestId: 1);
        var (_, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(ErrorCode.MalformedFrame, error.Code);
        Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_connection_that_never_says_Hello_is_closed_after_the_handshake_timeout()
    {
        await using var raw = await RawGridSocket.ConnectAsync(Silo.Host, Silo.Port);
        await raw.SendAsync(new byte[5]); // half a header, then silence
        Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_malformed_body_after_Hello_gets_an_error_and_the_connection_stays_open()
    {
        await using var raw = await RawGridSocket.ConnectAndHelloAsync(Silo.Host, Silo.Port);
        var fetch = MessageSamples_FetchChunkBody();

        // Truncated, then with trailing bytes, then a known type whose body is garbage.
        await raw.SendRawFrameAsync(MessageType.FetchChunk, fetch[..^3], requestId: 10);
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal((10UL, ErrorCode.MalformedFrame), (header.RequestId, error.Code));

        await raw.SendRawFrameAsync(MessageType.FetchChunk, [.. fetch, 1, 2], requestId: 11);
        (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal((11UL, ErrorCode.MalformedFrame), (header.RequestId, error.Code));

        await raw.SendRawFrameAsync(MessageType.RegisterShuffle, [0xFF, 0xFF, 1, 2, 3], requestId: 12);
        (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal((12UL, ErrorCode.MalformedFrame), (header.RequestId, error.Code));

        await raw.SendRawFrameAsync(MessageType.PushData, [1, 0, (byte)'a', 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F], requestId: 13);
        (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal((13UL, ErrorCode.MalformedFrame), (header.RequestId, error.Code));

        // A known type with a well-formed body for a grain request, and a bad one mid-body (valid app id, truncated rest).
        await raw.SendRawFrameAsync(MessageType.MapperEnd, [3, 0, (byte)'a', (byte)'p', (byte)'p', 1], requestId: 14);
        (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal((14UL, ErrorCode.MalformedFrame), (header.RequestId, error.Code));

        // Still open: a Ping is answered.
        await raw.SendFrameAsync(MessageType.Ping, default(Empty), requestId: 15);
        var pong = await raw.ReceiveFrameAsync();
        Assert.NotNull(pong);
        Assert.Equal((15UL, FrameFlags.Response, 0), (pong.Value.Header.RequestId, pong.Value.Header.Flags, pong.Value.Body.Length));
    }

    private static byte[] MessageSamples_FetchChunkBody() =>
        Tests.Wire.MessageSamples.BodyOf(new FetchChunk("app-x", 0, 0, 0, 0, 0, int.MaxValue));

    [Fact]
    public async Task An_unknown_message_type_gets_UnknownMessageType_and_the_connection_stays_open()
    {
        await using var raw = await RawGridSocket.ConnectAndHelloAsync(Silo.Host, Silo.Port);
        foreach (ushort type in new ushort[] { 999, 4, 29, 65535 })
        {
            await raw.SendRawFrameAsync((MessageType)type, [1, 2, 3], requestId: type);
            var (header, error) = await raw.ReceiveErrorAsync();
            Assert.Equal(ErrorCode.UnknownMessageType, error.Code);
            Assert.Equal((ulong)type, header.RequestId);
        }
        await raw.SendFrameAsync(MessageType.Ping, default(Empty), requestId: 100);
        Assert.Equal(100UL, (await raw.ReceiveFrameAsync())!.Value.Header.RequestId);
    }

    [Fact]
    public async Task A_second_Hello_and_a_response_frame_are_refused_without_closing()
    {
        await using var raw = await RawGridSocket.ConnectAndHelloAsync(Silo.Host, Silo.Port);
        await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("again"), requestId: 2);
        var (_, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(ErrorCode.InvalidArgument, error.Code);
        await raw.SendFrameAsync(MessageType.Ping, default(Empty), requestId: 3, FrameFlags.Response);
        (_, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(ErrorCode.MalformedFrame, error.Code);
        await raw.SendFrameAsync(MessageType.Ping, default(Empty), requestId: 4);
        Assert.Equal(4UL, (await raw.ReceiveFrameAsync())!.Value.Header.RequestId);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task Path_like_application_ids_get_InvalidId(string appId)
    {
        await using var connection = await GridConnection.ConnectAsync(Silo.Host, Silo.Port, new GridConnectionOptions());
        foreach (var type in new[] { MessageType.RegisterApplication, MessageType.ApplicationHeartbeat, MessageType.UnregisterApplication })
        {
            var e = await Assert.ThrowsAsync<GridException>(() => connection.SendAsync(type, new AppRequest(appId)));
            Assert.Equal(ErrorCode.InvalidId, e.Code);
        }
        var register = await Assert.ThrowsAsync<GridException>(() => connection.SendAsync(MessageType.RegisterShuffle, new RegisterShuffle(appId, 0, 1, 1)));
        Assert.Equal(ErrorCode.InvalidId, register.Code);
        var destroy = await Assert.ThrowsAsync<GridException>(() => connection.SendAsync(MessageType.DestroyShuffle, new ShuffleRequest(appId, -1)));
        Assert.Equal(ErrorCode.InvalidId, destroy.Code);
        var reserve = await Assert.ThrowsAsync<GridException>(() => connection.SendAsync(MessageType.ReservePartitions, new ReservePartitions(appId, 0, [new PartitionReservation(0, 0, PartitionRole.Primary, null)])));
        Assert.Equal(ErrorCode.InvalidId, reserve.Code);
        var fetch = await Assert.ThrowsAsync<GridException>(() => connection.SendAsync(MessageType.FetchChunk, new FetchChunk(appId, 0, 0, 0, 0, 0, int.MaxValue)));
        Assert.Equal(ErrorCode.InvalidId, fetch.Code);
        using var ping = await connection.SendAsync(MessageType.Ping, default(Empty));
        // Nothing was created anywhere under the silos' disks.
        Assert.All(_cluster.Silos, s => Assert.Equal(0, s.Partitions.Count));
        Assert.All(_cluster.Silos, s => Assert.False(Directory.Exists(Path.GetFullPath(Path.Combine(s.Disk, "..", "etc")))));
    }

    [Fact]
    public async Task Pushes_with_bad_batches_are_refused_and_nothing_bad_is_stored()
    {
        var client = await _cluster.ConnectClientAsync();
        await client.RegisterApplicationAsync("app-bad-push");
        var locations = await client.RegisterShuffleAsync("app-bad-push", 0, 1, 2);
        var target = locations[0];
        await using var connection = await GridConnection.ConnectAsync(target.Host, target.Port, new GridConnectionOptions());

        var good = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["good"]));
        var corrupt = TestBatches.Make(0, 0, 1, TestBatches.FrameRecords(["evil"]));
        corrupt[^1] ^= 0x55;

        async Task<ErrorCode> PushAsync(int partition, int epoch, byte[] batch, int? declaredLength = null)
        {
            using var output = new PooledBufferWriter(256);
            var writer = new WireWriter(output);
            PushData.WriteHeader(writer, "app-bad-push", 0, 1);
            writer.WriteInt32(partition);
            writer.WriteInt32(epoch);
            writer.WriteInt32(declaredLength ?? batch.Length);
            writer.WriteRaw(batch);
            try
            {
                using var reply = await connection.SendAsync(MessageType.PushData, new RawBody(output.WrittenSpan.ToArray()));
                return ErrorCode.None;
            }
            catch (GridException e)
            {
                return e.Code;
            }
        }

        Assert.Equal(ErrorCode.ChecksumMismatch, await PushAsync(target.PartitionId, 0, corrupt));
        Assert.Equal(ErrorCode.UnknownPartition, await PushAsync(target.PartitionId, 5, good));
        Assert.Equal(ErrorCode.UnknownPartition, await PushAsync(99, 0, good));
        Assert.Equal(ErrorCode.MalformedFrame, await PushAsync(target.PartitionId, 0, good[..10]));
        Assert.Equal(ErrorCode.MalformedFrame, await PushAsync(target.PartitionId, 0, good, declaredLength: good.Length + 1));
        Assert.Equal(ErrorCode.None, await PushAsync(target.PartitionId, 0, good));

        await using (var writer = await client.CreateWriterAsync("app-bad-push", 0, 1, 2, 0, 0))
        {
            Assert.True((await writer.CloseAsync()).AllMapsEnded);
        }
        var (records, _) = await ShuffleData.ReadPartitionAsync(client, "app-bad-push", 0, target.PartitionId);
        Assert.Equal(["good"], records);
    }
}
