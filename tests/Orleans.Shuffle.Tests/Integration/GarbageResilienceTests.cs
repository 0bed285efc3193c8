using System.Buffers;
using System.Buffers.Binary;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;
using Orleans.TestingHost;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>
/// Bad input on one data-plane connection gets the error reply or the closed connection that
/// docs/protocol.md specifies, and harms nobody else: after every attack a whole shuffle through the
/// grid client still reads back exactly. Two real storage silos (so pushes are replicated); the
/// attacks go to the first one's data endpoint over raw loopback sockets.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class GarbageResilienceTests : IAsyncLifetime
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(60);

    private TestGrid _grid = null!;
    private SiloEndpoint _endpoint = null!;

    private InProcessSiloHandle Silo => _grid.Silos[0];

    public async Task InitializeAsync()
    {
        // A short handshake timeout, so the slowloris test does not wait the default 10 s.
        _grid = await TestGrid.StartAsync(2, settings: new Dictionary<string, string?> { ["DataEndpoint:HandshakeTimeout"] = "00:00:01" });
        _endpoint = await _grid.DataEndpointOf(Silo);
    }

    public async Task DisposeAsync() => await _grid.DisposeAsync();

    /// <summary>The silo still serves: a whole small shuffle through the grid client reads back exactly.</summary>
    private Task AssertStillServesAsync(string appId) => ShuffleData.RunSmallShuffleAsync(_grid.Client, appId);

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

    /// <summary>
    /// A raw connection to the first silo's data endpoint, or to <paramref name="silo"/>'s. With the
    /// Hello it also proves the cluster secret, as a member silo: these tests send what a buggy or
    /// hostile peer past authentication could, and replication (for members only) among it.
    /// </summary>
    private async Task<RawGridSocket> ConnectAsync(bool hello, SiloEndpoint? silo = null)
    {
        silo ??= _endpoint;
        if (!hello) return await RawGridSocket.ConnectAsync(silo);
        var (raw, ok) = await RawGridSocket.ConnectAndHelloAsync(silo);
        Assert.Equal(silo.Identity, ok.SiloIdentity);
        Assert.Matches(@"^\d{1,3}(\.\d{1,3}){3}:\d+@\d+$", ok.SiloIdentity); // the Orleans address, ip:port@generation
        await raw.AuthenticateAsync(_grid.MemberCredential, ok);
        return raw;
    }

    /// <summary>The connection still serves requests: a fetch of a partition nobody has gets UnknownPartition for its id.</summary>
    private static async Task AssertConnectionServesAsync(RawGridSocket raw, ulong requestId)
    {
        await raw.SendFrameAsync(MessageType.FetchChunk, new FetchChunk("app-nobody", 0, 0, 0, 0, 0, int.MaxValue), requestId);
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal((MessageType.FetchChunk, requestId, GridErrorCode.UnknownPartition), (header.Type, header.RequestId, error.Code));
    }

    private static async Task AssertErrorAsync(RawGridSocket raw, MessageType type, ulong requestId, GridErrorCode code)
    {
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.True((type, requestId, code) == (header.Type, header.RequestId, error.Code),
            $"expected {code} for {type} #{requestId}, got {error.Code} for {header.Type} #{header.RequestId}: {error.Message}");
    }

    /// <summary>The error the silo sends before it closes a connection whose byte stream it cannot trust: request id 0.</summary>
    private static async Task AssertConnectionErrorThenCloseAsync(RawGridSocket raw, GridErrorCode code)
    {
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.Equal((0UL, code), (header.RequestId, error.Code));
        Assert.True(await raw.WaitForCloseAsync(CloseWait), "the connection was left open");
    }

    [Fact]
    public async Task Random_bytes_close_the_connection_and_the_silo_keeps_serving()
    {
        var random = new Random(1234);
        var inputs = Enumerable.Range(0, 20).Select(_ =>
        {
            var bytes = new byte[random.Next(1, 4096)];
            random.NextBytes(bytes);
            return bytes;
        }).ToList();
        var garbage = inputs.Select(async (bytes, i) =>
        {
            await using var raw = await RawGridSocket.ConnectAsync(_endpoint);
            await raw.SendAsync(bytes);
            raw.ShutdownSend();
            Assert.True(await raw.WaitForCloseAsync(CloseWait), $"connection {i} was left open");
        }).ToList();
        // Meanwhile a correct client works.
        await AssertStillServesAsync("app-during-garbage");
        await Task.WhenAll(garbage);
        await AssertStillServesAsync("app-after-garbage");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_oversized_length_gets_FrameTooLarge_with_request_id_0_and_a_closed_connection(bool hello)
    {
        await using (var raw = await ConnectAsync(hello))
        {
            await raw.SendAsync(Header(ProtocolConstants.DefaultMaxFrameBodyBytes + 1, (ushort)MessageType.PushData, requestId: 5));
            await AssertConnectionErrorThenCloseAsync(raw, GridErrorCode.FrameTooLarge);
        }
        await using (var raw = await ConnectAsync(hello))
        {
            // u32 0xFFFFFFFF.
            await raw.SendAsync(Header(-1, (ushort)MessageType.FetchChunk, requestId: 6));
            await AssertConnectionErrorThenCloseAsync(raw, GridErrorCode.FrameTooLarge);
        }
        await AssertStillServesAsync("app-after-oversized");
    }

    /// <summary>A PushData body of one entry of <paramref name="batchBytes"/> bytes for a partition of <paramref name="appId"/>.</summary>
    private static byte[] PushBody(string appId, int batchBytes)
    {
        using var body = new PooledBufferWriter(batchBytes + 256);
        var writer = new WireWriter(body);
        new PushDataHeader(appId, 0, 1).Write(writer);
        writer.WriteInt32(0);
        writer.WriteInt32(0);
        writer.WriteInt32(batchBytes);
        writer.WriteRaw(new byte[batchBytes]);
        return body.WrittenMemory.ToArray();
    }

    /// <summary>
    /// A frame of 3 MiB, three times the receive pipe (DataEndpoint:ReceiveBufferBytes, 1 MiB), sent in
    /// small pieces: the silo copies it out of the pipe as it comes, parses it whole (its one entry names
    /// a partition nobody has, so the reply is UnknownPartition for its request id), and the connection
    /// parses the next frame right after it.
    /// </summary>
    [Fact]
    public async Task A_frame_larger_than_the_receive_pipe_is_read_whole_and_the_next_frame_follows()
    {
        await using var raw = await ConnectAsync(hello: true);
        var body = PushBody("app-nobody", 3 * 1024 * 1024);
        var frame = Header(body.Length, (ushort)MessageType.PushData, requestId: 41).Concat(body).ToArray();
        for (int offset = 0; offset < frame.Length; offset += 256 * 1024)
        {
            await raw.SendAsync(frame.AsMemory(offset, Math.Min(256 * 1024, frame.Length - offset)));
        }
        await AssertErrorAsync(raw, MessageType.PushData, 41, GridErrorCode.UnknownPartition);
        await AssertConnectionServesAsync(raw, 42);
    }

    /// <summary>
    /// Real pushes larger than the receive pipe, stored and read back byte for byte: batches sealed only
    /// when the writer closes (4 MiB push buffers) hold about 1.5 MB each, more than the 1 MiB pipe alone,
    /// so every push and every replication of it to the second silo takes the copied-out path.
    /// </summary>
    [Fact]
    public async Task Pushes_larger_than_the_receive_pipe_are_stored_replicated_and_read_back_exactly()
    {
        var client = _grid.NewClient(new GridClientOptions
        {
            Compression = BatchCodec.None,
            PushBufferBytes = 4 * 1024 * 1024,
            MergedPushBytes = 8 * 1024 * 1024,
            ShuffleGrainFailoverTimeout = TimeSpan.FromSeconds(60),
        });
        await ShuffleData.RunSmallShuffleAsync(client, "app-large-pushes", recordsPerMap: 24_000);
    }

    /// <summary>Before its Hello a stranger gets no buffer of megabytes: a frame above the receive pipe is FrameTooLarge.</summary>
    [Fact]
    public async Task A_frame_larger_than_the_receive_pipe_before_Hello_gets_FrameTooLarge_and_a_closed_connection()
    {
        await using (var raw = await ConnectAsync(hello: false))
        {
            await raw.SendAsync(Header(2 * 1024 * 1024, (ushort)MessageType.Hello, requestId: 7));
            await AssertConnectionErrorThenCloseAsync(raw, GridErrorCode.FrameTooLarge);
        }
        await AssertStillServesAsync("app-after-large-first-frame");
    }

    /// <summary>A peer that stops halfway through a large frame loses only its connection; the half frame is dropped.</summary>
    [Fact]
    public async Task A_connection_closed_inside_a_large_frame_is_dropped_and_the_silo_keeps_serving()
    {
        await using (var raw = await ConnectAsync(hello: true))
        {
            var body = PushBody("app-nobody", 4 * 1024 * 1024);
            await raw.SendAsync(Header(body.Length, (ushort)MessageType.PushData, requestId: 43));
            await raw.SendAsync(body.AsMemory(0, body.Length / 2));
            raw.ShutdownSend();
            Assert.True(await raw.WaitForCloseAsync(CloseWait), "the silo did not close a connection whose peer stopped inside a frame");
        }
        await AssertStillServesAsync("app-after-half-large-frame");
    }

    [Theory]
    [InlineData(false, 0x04, 0)] // version 1's Forwarded flag
    [InlineData(true, 0x04, 0)]
    [InlineData(false, 0x40, 0)]
    [InlineData(true, 0x80, 0)]
    [InlineData(true, 0x07, 0)]
    [InlineData(false, 0, 1)]
    [InlineData(true, 0, 0xFF)]
    public async Task Bad_flags_or_reserved_byte_get_MalformedFrame_with_request_id_0_and_a_closed_connection(bool hello, byte flags, byte reserved)
    {
        await using (var raw = await ConnectAsync(hello))
        {
            var type = hello ? MessageType.FetchChunk : MessageType.Hello;
            await raw.SendAsync(Header(0, (ushort)type, flags, reserved, requestId: 3));
            await AssertConnectionErrorThenCloseAsync(raw, GridErrorCode.MalformedFrame);
        }
        await AssertStillServesAsync("app-after-bad-flags");
    }

    [Fact]
    public async Task Unknown_message_types_get_UnknownMessageType_and_the_connection_stays_open()
    {
        await using (var raw = await ConnectAsync(hello: true))
        {
            // 2 was Ping, 3 and 10-17, 30-34 version 1's control messages: never reused.
            ushort[] types = [0, 2, 3, 10, 11, 13, 17, 19, 23, 30, 33, 34, 999, 65535];
            foreach (ushort type in types)
            {
                await raw.SendRawFrameAsync((MessageType)type, [1, 2, 3], requestId: 1000u + type);
                await AssertErrorAsync(raw, (MessageType)type, 1000u + type, GridErrorCode.UnknownMessageType);
                await raw.SendRawFrameAsync((MessageType)type, [], requestId: 100_000u + type);
                await AssertErrorAsync(raw, (MessageType)type, 100_000u + type, GridErrorCode.UnknownMessageType);
            }
            await AssertConnectionServesAsync(raw, 7);
        }
        await AssertStillServesAsync("app-after-unknown-types");
    }

    [Theory]
    [InlineData((ushort)MessageType.PushData)]
    [InlineData((ushort)MessageType.FetchChunk)]
    [InlineData((ushort)MessageType.ReplicateData)]
    [InlineData((ushort)2)]
    [InlineData((ushort)3)]
    [InlineData((ushort)10)]
    [InlineData((ushort)13)]
    [InlineData((ushort)30)]
    [InlineData((ushort)34)]
    public async Task A_first_frame_other_than_Hello_gets_HandshakeRequired_and_a_closed_connection(ushort type)
    {
        await using (var raw = await ConnectAsync(hello: false))
        {
            var body = Wire.MessageSamples.BodyOf(new FetchChunk("app-x", 0, 0, 0, 0, 0, int.MaxValue));
            await raw.SendRawFrameAsync((MessageType)type, body, requestId: 7);
            await AssertErrorAsync(raw, (MessageType)type, 7, GridErrorCode.HandshakeRequired);
            Assert.True(await raw.WaitForCloseAsync(CloseWait), "the connection was left open");
        }
        await AssertStillServesAsync("app-after-no-hello");
    }

    [Theory]
    [InlineData(ProtocolConstants.Magic, (ushort)1)]
    [InlineData(ProtocolConstants.Magic, (ushort)0)]
    [InlineData(ProtocolConstants.Magic, (ushort)2)] // the version before batch codecs: its batches have shorter headers
    [InlineData(ProtocolConstants.Magic, (ushort)3)] // the version before authentication: its HelloOk has no challenge
    [InlineData(ProtocolConstants.Magic, (ushort)5)]
    [InlineData(ProtocolConstants.Magic, (ushort)0x0400)] // the version with its bytes swapped
    public async Task Another_protocol_version_gets_VersionMismatch_naming_version_4_and_a_closed_connection(uint magic, ushort version)
    {
        await using (var raw = await ConnectAsync(hello: false))
        {
            await raw.SendFrameAsync(MessageType.Hello, new Hello(magic, version, "old-client"), requestId: 1);
            var (header, error) = await raw.ReceiveErrorAsync();
            Assert.Equal((MessageType.Hello, 1UL, GridErrorCode.VersionMismatch), (header.Type, header.RequestId, error.Code));
            Assert.Contains($"version {ProtocolConstants.Version}", error.Message, StringComparison.Ordinal);
            Assert.True(await raw.WaitForCloseAsync(CloseWait), "the connection was left open");
        }
        await AssertStillServesAsync("app-after-old-version");
    }

    [Theory]
    [InlineData(0xDEADBEEFu)]
    [InlineData(0x4F534847u)] // "GHSO": the magic with its bytes swapped
    [InlineData(0u)]
    public async Task A_wrong_magic_gets_VersionMismatch_and_a_closed_connection(uint magic)
    {
        await using (var raw = await ConnectAsync(hello: false))
        {
            await raw.SendFrameAsync(MessageType.Hello, new Hello(magic, ProtocolConstants.Version, "stranger"), requestId: 1);
            var (header, error) = await raw.ReceiveErrorAsync();
            Assert.Equal((MessageType.Hello, 1UL, GridErrorCode.VersionMismatch), (header.Type, header.RequestId, error.Code));
            Assert.True(await raw.WaitForCloseAsync(CloseWait), "the connection was left open");
        }
        await AssertStillServesAsync("app-after-bad-magic");
    }

    [Fact]
    public async Task A_wrong_magic_gets_a_VersionMismatch_message_naming_version_4()
    {
        await using var raw = await ConnectAsync(hello: false);
        await raw.SendFrameAsync(MessageType.Hello, new Hello(0xDEADBEEF, ProtocolConstants.Version, "stranger"), requestId: 1);
        var (_, error) = await raw.ReceiveErrorAsync();
        Assert.Equal(GridErrorCode.VersionMismatch, error.Code);
        Assert.Contains($"version {ProtocolConstants.Version}", error.Message, StringComparison.Ordinal);
    }

    public static IEnumerable<object[]> MalformedHelloBodies()
    {
        var hello = Wire.MessageSamples.BodyOf(Hello.ForThisBuild("raw"));
        yield return new object[] { hello[..2] };          // ends inside the magic
        yield return new object[] { hello[..6] };          // no peer name
        yield return new object[] { hello[..^1] };         // peer name cut short
        yield return new object[] { hello.Append((byte)0).ToArray() }; // trailing byte
        yield return new object[] { Array.Empty<byte>() };
    }

    [Theory]
    [MemberData(nameof(MalformedHelloBodies))]
    public async Task A_malformed_Hello_body_gets_MalformedFrame_and_a_closed_connection(byte[] body)
    {
        await using (var raw = await ConnectAsync(hello: false))
        {
            await raw.SendRawFrameAsync(MessageType.Hello, body, requestId: 1);
            await AssertErrorAsync(raw, MessageType.Hello, 1, GridErrorCode.MalformedFrame);
            Assert.True(await raw.WaitForCloseAsync(CloseWait), "the connection was left open");
        }
        await AssertStillServesAsync("app-after-bad-hello");
    }

    [Fact]
    public async Task A_second_Hello_gets_InvalidArgument_and_the_connection_stays_open()
    {
        await using (var raw = await ConnectAsync(hello: true))
        {
            await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("again"), requestId: 2);
            await AssertErrorAsync(raw, MessageType.Hello, 2, GridErrorCode.InvalidArgument);
            // Also when it speaks another version: the handshake is over.
            await raw.SendFrameAsync(MessageType.Hello, new Hello(ProtocolConstants.Magic, 1, "again"), requestId: 3);
            await AssertErrorAsync(raw, MessageType.Hello, 3, GridErrorCode.InvalidArgument);
            await AssertConnectionServesAsync(raw, 4);
        }
        await AssertStillServesAsync("app-after-second-hello");
    }

    [Fact]
    public async Task A_response_frame_sent_to_the_silo_is_refused_and_the_connection_stays_open()
    {
        // Not in docs/protocol.md (a silo takes requests only); the silo answers MalformedFrame for the frame's id.
        await using (var raw = await ConnectAsync(hello: true))
        {
            await raw.SendRawFrameAsync(MessageType.PushData, [0, 0, 0, 0], requestId: 2, FrameFlags.Response);
            await AssertErrorAsync(raw, MessageType.PushData, 2, GridErrorCode.MalformedFrame);
            await raw.SendRawFrameAsync(MessageType.FetchChunk, [], requestId: 3, FrameFlags.Response | FrameFlags.Error);
            await AssertErrorAsync(raw, MessageType.FetchChunk, 3, GridErrorCode.MalformedFrame);
            await AssertConnectionServesAsync(raw, 4);
        }
        await AssertStillServesAsync("app-after-response-frame");
    }

    [Fact]
    public async Task A_first_frame_with_the_Response_flag_gets_HandshakeRequired_and_a_closed_connection()
    {
        await using var raw = await ConnectAsync(hello: false);
        await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("backwards"), requestId: 1, FrameFlags.Response);
        await AssertErrorAsync(raw, MessageType.Hello, 1, GridErrorCode.HandshakeRequired);
        Assert.True(await raw.WaitForCloseAsync(CloseWait), "the connection was left open");
    }

    [Fact]
    public async Task A_request_with_id_0_gets_a_connection_level_error_and_a_closed_connection()
    {
        // Id 0 is what connection-level errors carry, so a request with it cannot be answered unambiguously.
        await using (var raw = await ConnectAsync(hello: true))
        {
            await raw.SendFrameAsync(MessageType.FetchChunk, new FetchChunk("app-nobody", 0, 0, 0, 0, 0, int.MaxValue), requestId: 0);
            await AssertConnectionErrorThenCloseAsync(raw, GridErrorCode.MalformedFrame);
        }
        await using (var raw = await ConnectAsync(hello: false))
        {
            await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("zero"), requestId: 0);
            await AssertConnectionErrorThenCloseAsync(raw, GridErrorCode.MalformedFrame);
        }
        await AssertStillServesAsync("app-after-request-id-0");
    }

    [Fact]
    public async Task A_request_with_only_the_Error_flag_is_refused_and_the_connection_stays_open()
    {
        await using (var raw = await ConnectAsync(hello: true))
        {
            await raw.SendFrameAsync(MessageType.FetchChunk, new FetchChunk("app-nobody", 0, 0, 0, 0, 0, int.MaxValue), requestId: 2, FrameFlags.Error);
            await AssertErrorAsync(raw, MessageType.FetchChunk, 2, GridErrorCode.MalformedFrame);
            await AssertConnectionServesAsync(raw, 3);
        }
        await AssertStillServesAsync("app-after-error-flag");
    }

    [Fact]
    public async Task A_chunk_whose_file_was_cut_short_aborts_only_its_connection_and_the_silo_keeps_serving()
    {
        const string App = "app-cut-short";
        var client = _grid.Client;
        await client.RegisterApplicationAsync(App);
        var location = Assert.Single((await client.RegisterShuffleAsync(App, 0, new ShuffleSpec(1, 1, 1))).Locations);
        await using (var writer = await client.CreateWriterAsync(App, 0, 0, 0))
        {
            await ShuffleData.WriteMapAsync(writer, 0, 2000, 1);
            Assert.True((await writer.CloseAsync()).AllMapsEnded);
        }
        // Read once whole, so the partition is committed; then cut its file short, as a failing disk might.
        Assert.Equal(2000, (await ShuffleData.ReadPartitionAsync(client, App, 0, 0)).Records.Count);
        string file = Assert.Single(_grid.DataFilesOf(_grid.SiloOf(location.Primary)!), f => f.Contains(App, StringComparison.Ordinal));
        using (var cut = File.Open(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) cut.SetLength(cut.Length / 2);

        // The reply's header is out before the read fails: the silo must abort that connection, not go on
        // writing other frames into the broken one.
        var (raw, rawOk) = await RawGridSocket.ConnectAndHelloAsync(location.Primary);
        await raw.AuthenticateAsync(_grid.MemberCredential, rawOk);
        await using (raw)
        {
            await raw.SendFrameAsync(MessageType.FetchChunk, new FetchChunk(App, 0, 0, location.Epoch, 0, 0, int.MaxValue), requestId: 2);
            Assert.True(await raw.WaitForCloseAsync(), "the connection with half a chunk on it was not closed");
        }
        var (other, otherOk) = await RawGridSocket.ConnectAndHelloAsync(location.Primary);
        await other.AuthenticateAsync(_grid.MemberCredential, otherOk);
        await using (other) await AssertConnectionServesAsync(other, requestId: 3);
        await AssertStillServesAsync("app-after-cut-short");
    }

    [Fact]
    public async Task A_connection_that_never_says_Hello_is_closed_without_a_reply()
    {
        // Slow lorises: one sends nothing, one half a header, one a whole Hello header and then its body
        // a byte at a time, never finishing. The handshake timeout (1 s here) ends each.
        var silent = await ConnectAsync(hello: false);
        var half = await ConnectAsync(hello: false);
        var trickle = await ConnectAsync(hello: false);
        await using (silent)
        await using (half)
        await using (trickle)
        {
            await half.SendAsync(new byte[5]);
            var frame = Wire.MessageSamples.BodyOf(Hello.ForThisBuild("slow-loris-with-a-long-name"));
            await trickle.SendAsync(Header(frame.Length, (ushort)MessageType.Hello, requestId: 1));
            var trickling = Task.Run(async () =>
            {
                // Bounded: at most the body less one byte, a byte at a time; a closed connection ends it.
                for (int i = 0; i < frame.Length - 1; i++)
                {
                    try
                    {
                        await trickle.SendAsync(frame.AsMemory(i, 1));
                    }
                    catch (System.Net.Sockets.SocketException)
                    {
                        return;
                    }
                    await Task.Delay(100);
                }
            });

            // Meanwhile everybody else is served.
            await AssertStillServesAsync("app-during-slowloris");

            foreach (var (name, raw) in new[] { ("silent", silent), ("half header", half), ("trickle", trickle) })
            {
                Assert.True(await raw.ReceiveRawFrameAsync(CloseWait) is null, $"the {name} connection got a frame instead of being closed");
            }
            await trickling;
        }
        await AssertStillServesAsync("app-after-slowloris");
    }

    private static byte[] FetchBody(string appId = "app-x", int shuffleId = 0, int partition = 0, int epoch = 0, int chunk = 0) =>
        Wire.MessageSamples.BodyOf(new FetchChunk(appId, shuffleId, partition, epoch, chunk, 0, int.MaxValue));

    /// <summary>A PushData / ReplicateData body; entries as (partition, epoch, declared batch length or null for the real one, batch bytes).</summary>
    private static byte[] PushBody(string appId, int shuffleId, int? entryCount, params (int Partition, int Epoch, int? Declared, byte[] Batch)[] entries)
    {
        using var output = new PooledBufferWriter(256);
        var writer = new WireWriter(output);
        PushData.WriteHeader(writer, appId, shuffleId, entryCount ?? entries.Length);
        foreach (var (partition, epoch, declared, batch) in entries)
        {
            writer.WriteInt32(partition);
            writer.WriteInt32(epoch);
            writer.WriteInt32(declared ?? batch.Length);
            writer.WriteRaw(batch);
        }
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Registers shuffle 0 of one map and four partitions, two copies each, and returns the location of
    /// partition 0: with two silos, its primary is on one and its replica on the other.
    /// </summary>
    private async Task<PartitionLocation> RegisterAsync(string appId)
    {
        await _grid.Client.RegisterApplicationAsync(appId);
        var location = (await _grid.Client.RegisterShuffleAsync(appId, 0, new ShuffleSpec(1, 4, 2))).Locations[0];
        Assert.NotNull(location.Replica);
        Assert.NotEqual(location.Primary.Identity, location.Replica.Identity);
        return location;
    }

    [Fact]
    public async Task Truncated_or_overlong_bodies_get_MalformedFrame_and_the_connection_stays_open()
    {
        const string App = "app-truncated";
        var primary = await RegisterAsync(App);
        var batch = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["x"]));
        var fetch = FetchBody();
        var push = PushBody(App, 0, null, (primary.PartitionId, primary.Epoch, null, batch));
        var bodies = new (MessageType Type, byte[] Body)[]
        {
            (MessageType.FetchChunk, fetch[..^3]),                                 // truncated
            (MessageType.FetchChunk, [.. fetch, 1, 2]),                             // trailing bytes
            (MessageType.FetchChunk, []),                                           // empty
            (MessageType.FetchChunk, [0xFF, 0xFF, 1, 2, 3]),                        // string longer than the body
            (MessageType.PushData, push[..5]),                                      // ends in the header
            (MessageType.PushData, push[..^1]),                                     // the batch cut short
            (MessageType.PushData, [1, 0, (byte)'a', 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F]), // entry count the body cannot hold
            (MessageType.PushData, PushBody(App, 0, -1)),                           // negative entry count
            (MessageType.PushData, PushBody(App, 0, 2, (primary.PartitionId, primary.Epoch, null, batch))[..^batch.Length]), // two entries announced, none there
            (MessageType.PushData, PushBody(App, 0, null, (primary.PartitionId, primary.Epoch, batch.Length + 1, batch))), // batch length past the end
            (MessageType.PushData, PushBody(App, 0, null, (primary.PartitionId, primary.Epoch, -1, batch))), // negative batch length
            (MessageType.PushData, [.. PushBody(App, 0, 0), 9]),                   // trailing bytes after zero entries
            (MessageType.PushData, [.. push, 9, 9, 9]),                             // trailing bytes after the last entry
            (MessageType.ReplicateData, push[..^1]),                                // the same layout for replication
        };
        await using (var raw = await ConnectAsync(hello: true, primary.Primary))
        {
            ulong id = 10;
            foreach (var (type, body) in bodies)
            {
                await raw.SendRawFrameAsync(type, body, ++id);
                await AssertErrorAsync(raw, type, id, GridErrorCode.MalformedFrame);
            }
            await AssertConnectionServesAsync(raw, ++id);
        }

        // The map ends with no batch of its own. The partition holds the one batch the push with trailing
        // bytes stored before the silo found them (batches before a refusal are kept); nothing else.
        await using (var writer = await _grid.Client.CreateWriterAsync(App, 0, 0, 0))
        {
            Assert.True((await writer.CloseAsync()).AllMapsEnded);
        }
        var (records, _) = await ShuffleData.ReadPartitionAsync(_grid.Client, App, 0, primary.PartitionId);
        Assert.Equal(["x"], records);
        await AssertStillServesAsync("app-after-truncated");
    }

    public static IEnumerable<object[]> BadAppIds => new[] { "../etc", "..", ".", "a/b", "a\\b", "", "-lead", new string('a', 129), "ü" }.Select(a => new object[] { a });

    [Theory]
    [MemberData(nameof(BadAppIds))]
    public async Task Malformed_application_ids_get_InvalidId_and_nothing_is_created(string appId)
    {
        int hosted = _grid.CatalogOf(Silo).Count;
        int files = _grid.DataFilesOf(Silo).Count;
        var batch = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["evil"]));
        await using (var raw = await ConnectAsync(hello: true))
        {
            await raw.SendRawFrameAsync(MessageType.PushData, PushBody(appId, 0, null, (0, 0, null, batch)), 2);
            await AssertErrorAsync(raw, MessageType.PushData, 2, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.ReplicateData, PushBody(appId, 0, null, (0, 0, null, batch)), 3);
            await AssertErrorAsync(raw, MessageType.ReplicateData, 3, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.FetchChunk, FetchBody(appId), 4);
            await AssertErrorAsync(raw, MessageType.FetchChunk, 4, GridErrorCode.InvalidId);
            await AssertConnectionServesAsync(raw, 5);
        }
        Assert.Equal((hosted, files), (_grid.CatalogOf(Silo).Count, _grid.DataFilesOf(Silo).Count));
        Assert.All(_grid.Silos, s => Assert.DoesNotContain(_grid.DataFilesOf(s), f => f.Contains("etc", StringComparison.Ordinal)));
        await AssertStillServesAsync("app-after-bad-app-id");
    }

    [Fact]
    public async Task Ids_out_of_range_get_InvalidId_and_the_connection_stays_open()
    {
        const string App = "app-bad-ids";
        var primary = await RegisterAsync(App);
        var batch = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["evil"]));
        await using (var raw = await ConnectAsync(hello: true, primary.Primary))
        {
            await raw.SendRawFrameAsync(MessageType.PushData, PushBody(App, -1, null, (primary.PartitionId, primary.Epoch, null, batch)), 2);
            await AssertErrorAsync(raw, MessageType.PushData, 2, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.ReplicateData, PushBody(App, int.MinValue, null, (primary.PartitionId, primary.Epoch, null, batch)), 3);
            await AssertErrorAsync(raw, MessageType.ReplicateData, 3, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.FetchChunk, FetchBody(App, partition: -1), 4);
            await AssertErrorAsync(raw, MessageType.FetchChunk, 4, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.FetchChunk, FetchBody(App, partition: 1_000_000), 5);
            await AssertErrorAsync(raw, MessageType.FetchChunk, 5, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.FetchChunk, FetchBody(App, partition: primary.PartitionId, epoch: -1), 6);
            await AssertErrorAsync(raw, MessageType.FetchChunk, 6, GridErrorCode.InvalidId);
            // Push entries are checked as fetches are.
            await raw.SendRawFrameAsync(MessageType.PushData, PushBody(App, 0, null, (-1, 0, null, batch)), 7);
            await AssertErrorAsync(raw, MessageType.PushData, 7, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.PushData, PushBody(App, 0, null, (primary.PartitionId, -1, null, batch)), 8);
            await AssertErrorAsync(raw, MessageType.PushData, 8, GridErrorCode.InvalidId);
            await AssertConnectionServesAsync(raw, 9);
        }
        await AssertStillServesAsync("app-after-bad-ids");
    }

    [Fact]
    public async Task Fetching_an_unknown_partition_or_chunk_gets_the_documented_error()
    {
        // A committed shuffle to fetch from, and one registered but not committed.
        const string Committed = "app-fetch-committed", Open = "app-fetch-open";
        await ShuffleData.RunSmallShuffleAsync(_grid.Client, Committed);
        var openCopy = await RegisterAsync(Open);
        Assert.Contains(_endpoint.Identity, new[] { openCopy.Primary.Identity, openCopy.Replica!.Identity });
        var group = await _grid.Client.GetReducerFileGroupAsync(Committed, 0);
        var (location, copy) = group.Locations.SelectMany(l => l.Copies.Select(c => (l.Location, Copy: c))).First(x => x.Copy.Silo.Identity == _endpoint.Identity);
        int chunks = copy.File.ChunkCount;
        Assert.True(chunks >= 1);

        await using (var raw = await ConnectAsync(hello: true))
        {
            async Task<(FrameHeader Header, byte[] Body)> FetchAsync(FetchChunk request, ulong id)
            {
                await raw.SendFrameAsync(MessageType.FetchChunk, request, id);
                var reply = await raw.ReceiveFrameAsync();
                Assert.NotNull(reply);
                Assert.Equal(id, reply.Value.Header.RequestId);
                return reply.Value;
            }

            // The chunk that exists comes back as whole batches that verify.
            var good = await FetchAsync(new FetchChunk(Committed, 0, location.PartitionId, location.Epoch, 0, 0, int.MaxValue), 2);
            Assert.Equal(FrameFlags.Response, good.Header.Flags);
            var batches = new BatchIterator(good.Body);
            int count = 0;
            // Bounded: each batch moves the iterator past at least its header.
            while (batches.MoveNext(out _, out _)) count++;
            Assert.True(count > 0);

            ulong id = 10;
            foreach (var (request, code) in new (FetchChunk, GridErrorCode)[]
            {
                (new(Committed, 0, location.PartitionId, location.Epoch, chunks, 0, int.MaxValue), GridErrorCode.InvalidArgument),
                (new(Committed, 0, location.PartitionId, location.Epoch, -1, 0, int.MaxValue), GridErrorCode.InvalidArgument),
                (new(Committed, 0, location.PartitionId, location.Epoch, int.MaxValue, 0, int.MaxValue), GridErrorCode.InvalidArgument),
                (new(Committed, 0, location.PartitionId, location.Epoch + 1, 0, 0, int.MaxValue), GridErrorCode.UnknownPartition),
                (new(Committed, 0, 999, 0, 0, 0, int.MaxValue), GridErrorCode.UnknownPartition),
                (new(Committed, 1, location.PartitionId, location.Epoch, 0, 0, int.MaxValue), GridErrorCode.UnknownPartition),
                (new("app-never-registered", 0, 0, 0, 0, 0, int.MaxValue), GridErrorCode.UnknownPartition),
                (new(Committed, -1, location.PartitionId, location.Epoch, 0, 0, int.MaxValue), GridErrorCode.InvalidId),
                (new(Open, 0, openCopy.PartitionId, openCopy.Epoch, 0, 0, int.MaxValue), GridErrorCode.NotCommitted),
            })
            {
                await raw.SendFrameAsync(MessageType.FetchChunk, request, ++id);
                await AssertErrorAsync(raw, MessageType.FetchChunk, id, code);
            }
            await AssertConnectionServesAsync(raw, ++id);
        }
        await AssertStillServesAsync("app-after-bad-fetches");
    }

    [Fact]
    public async Task Pushes_with_bad_batches_are_refused_and_nothing_bad_is_stored()
    {
        const string App = "app-bad-push";
        var primary = await RegisterAsync(App);
        var options = new GridConnectionOptions { PeerName = "bad-pusher", Credential = _grid.MemberCredential };
        await using var connection = await GridConnection.ConnectAsync(primary.Primary.Host, primary.Primary.Port, options);
        await using var toReplica = await GridConnection.ConnectAsync(primary.Replica!.Host, primary.Replica.Port, options);

        var good = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["good"]));
        var corrupt = TestBatches.Make(0, 0, 1, TestBatches.FrameRecords(["evil"]));
        corrupt[^1] ^= 0x55;
        var badCrc = TestBatches.Make(0, 0, 2, TestBatches.FrameRecords(["evil"]));
        badCrc[24] ^= 0x01;
        var unknownCodec = TestBatches.Make(0, 0, 5, TestBatches.FrameRecords(["evil"]));
        unknownCodec[16] = 9; // no such codec; the silo refuses it before looking at the checksum
        var lying = TestBatches.Make(0, 0, 3, TestBatches.FrameRecords(["evil"]));
        BinaryPrimitives.WriteInt32LittleEndian(lying.AsSpan(12), 3); // payloadLength shorter than the batch
        var negative = TestBatches.Make(0, 0, 4, TestBatches.FrameRecords(["evil"]));
        BinaryPrimitives.WriteInt32LittleEndian(negative, -1); // map id

        async Task<GridErrorCode> SendAsync(MessageType type, byte[] body, GridConnection? to = null)
        {
            try
            {
                using var reply = await (to ?? connection).SendAsync(type, new RawBody(body));
                Assert.Empty(reply.Read<PushReply>().Splits);
                return GridErrorCode.None;
            }
            catch (GridException e)
            {
                return e.Code;
            }
        }

        Task<GridErrorCode> PushAsync(int partition, int epoch, byte[] batch, int? declared = null) =>
            SendAsync(MessageType.PushData, PushBody(App, 0, null, (partition, epoch, declared, batch)));

        Assert.Equal(GridErrorCode.ChecksumMismatch, await PushAsync(primary.PartitionId, primary.Epoch, corrupt));
        Assert.Equal(GridErrorCode.ChecksumMismatch, await PushAsync(primary.PartitionId, primary.Epoch, badCrc));
        Assert.Equal(GridErrorCode.UnknownPartition, await PushAsync(primary.PartitionId, primary.Epoch + 5, good));
        Assert.Equal(GridErrorCode.UnknownPartition, await PushAsync(99, 0, good));
        // A push goes to a primary, a replication to a replica: not the other way round.
        Assert.Equal(GridErrorCode.UnknownPartition,
            await SendAsync(MessageType.PushData, PushBody(App, 0, null, (primary.PartitionId, primary.Epoch, null, good)), toReplica));
        Assert.Equal(GridErrorCode.UnknownPartition,
            await SendAsync(MessageType.ReplicateData, PushBody(App, 0, null, (primary.PartitionId, primary.Epoch, null, good))));
        Assert.Equal(GridErrorCode.MalformedFrame, await PushAsync(primary.PartitionId, primary.Epoch, good[..10]));
        Assert.Equal(GridErrorCode.MalformedFrame, await PushAsync(primary.PartitionId, primary.Epoch, good[..^1]));
        Assert.Equal(GridErrorCode.MalformedFrame, await PushAsync(primary.PartitionId, primary.Epoch, good, declared: good.Length + 1));
        Assert.Equal(GridErrorCode.MalformedFrame, await PushAsync(primary.PartitionId, primary.Epoch, lying));
        Assert.Equal(GridErrorCode.MalformedFrame, await PushAsync(primary.PartitionId, primary.Epoch, negative));
        Assert.Equal(GridErrorCode.MalformedFrame, await PushAsync(primary.PartitionId, primary.Epoch, unknownCodec));
        // A merged push whose second entry is refused: the error names it, the first entry was kept.
        Assert.Equal(GridErrorCode.ChecksumMismatch, await SendAsync(MessageType.PushData,
            PushBody(App, 0, null, (primary.PartitionId, primary.Epoch, null, good), (primary.PartitionId, primary.Epoch, null, corrupt))));
        Assert.Equal(GridErrorCode.None, await PushAsync(primary.PartitionId, primary.Epoch, good));
        Assert.True(connection.IsConnected);

        await using (var writer = await _grid.Client.CreateWriterAsync(App, 0, 0, 0))
        {
            Assert.True((await writer.CloseAsync()).AllMapsEnded);
        }
        // Pushed twice with the same (map, attempt, batch): the reader returns it once; nothing else was stored.
        var (records, _) = await ShuffleData.ReadPartitionAsync(_grid.Client, App, 0, primary.PartitionId);
        Assert.Equal(["good"], records);
        for (int p = 1; p < 4; p++)
        {
            Assert.Empty((await ShuffleData.ReadPartitionAsync(_grid.Client, App, 0, p)).Records);
        }

        // Every map has ended: a late push is told so.
        Assert.Equal(GridErrorCode.MapEnded, await PushAsync(primary.PartitionId, primary.Epoch, TestBatches.Make(0, 1, 0, TestBatches.FrameRecords(["late"]))));
        await AssertStillServesAsync("app-after-bad-push");
    }

    [Fact]
    public async Task A_connection_that_proved_nothing_gets_Unauthorized_for_data_malformed_proofs_keep_it_open_and_nothing_is_stored()
    {
        const string App = "app-unproved";
        var primary = await RegisterAsync(App);
        var copy = _grid.Silos.Select(s => _grid.CatalogOf(s).Find(new Orleans.Shuffle.Grains.Partition.PartitionKey(App, 0, primary.PartitionId, primary.Epoch)))
            .Single(c => c is { Role: PartitionRole.Primary })!;
        var batch = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["unproved"]));
        var push = PushBody(App, 0, null, (primary.PartitionId, primary.Epoch, null, batch));
        var (raw, ok) = await RawGridSocket.ConnectAndHelloAsync(primary.Primary);
        await using (raw)
        {
            ulong id = 1;
            foreach (var (type, body) in new[] { (MessageType.PushData, push), (MessageType.ReplicateData, push), (MessageType.FetchChunk, FetchBody(App, 0, primary.PartitionId, primary.Epoch)) })
            {
                await raw.SendRawFrameAsync(type, body, ++id);
                await AssertErrorAsync(raw, type, id, GridErrorCode.Unauthorized);
            }
            // Authenticate bodies that do not parse: malformed, and the connection is still there for a good one.
            var good = Wire.MessageSamples.BodyOf(new Authenticate(PrincipalKind.Application, App, new byte[32]));
            byte[][] malformed = [good[..^5], [9, .. good[1..]], [.. good, 0], [1, 0, 0]];
            foreach (var body in malformed)
            {
                await raw.SendRawFrameAsync(MessageType.Authenticate, body, ++id);
                await AssertErrorAsync(raw, MessageType.Authenticate, id, GridErrorCode.MalformedFrame);
            }
            await raw.SendRawFrameAsync(MessageType.Authenticate, Wire.MessageSamples.BodyOf(new Authenticate(PrincipalKind.Application, "../etc", new byte[32])), ++id);
            await AssertErrorAsync(raw, MessageType.Authenticate, id, GridErrorCode.InvalidId);
            await raw.SendRawFrameAsync(MessageType.Authenticate, Wire.MessageSamples.BodyOf(new Authenticate(PrincipalKind.Application, "app-nobody", new byte[32])), ++id);
            await AssertErrorAsync(raw, MessageType.Authenticate, id, GridErrorCode.UnknownPartition);
            await raw.AuthenticateAsync(_grid.MemberCredential, ok, ++id);
        }
        Assert.Equal(0, copy.File.Batches);
        await AssertStillServesAsync("app-after-unproved");
    }
}
