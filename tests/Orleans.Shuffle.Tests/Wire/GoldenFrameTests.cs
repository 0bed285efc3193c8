using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

/// <summary>
/// Byte vectors of every data-plane message, written by hand from docs/protocol.md (one hex literal
/// and one comment per field; checksums from the bitwise <see cref="TestBatches.ReferenceCrc32C"/>, not the product's <see cref="Crc32C"/>), checked
/// both ways: the project's writers (client: <see cref="GridConnection"/>, <see cref="ShuffleWriter"/>;
/// silo: <see cref="ConnectionResponder"/>, <see cref="ReplicaPush"/>, <see cref="PartitionFileWriter"/>)
/// produce exactly these bytes, and its readers parse these bytes back to the same values. The client
/// side talks to a loopback socket that plays the silo with these bytes.
/// </summary>
public sealed class GoldenFrameTests
{
    private const int Max = ProtocolConstants.DefaultMaxFrameBodyBytes;

    /// <summary>Concatenates hex fields ("0F000000", "0100", ...); spaces are ignored.</summary>
    private static byte[] Hex(params string[] fields) => Convert.FromHexString(string.Concat(fields).Replace(" ", "", StringComparison.Ordinal));

    // ---- Strings and values the vectors use -------------------------------------------------

    private const string AppId = "app-1";          // 05 00 | 61 70 70 2D 31
    private const int ShuffleId = 7;
    private const string PeerName = "gölden";      // 07 00 | 67 C3 B6 6C 64 65 6E (7 UTF-8 bytes for 6 chars)
    private const string SiloIdentity = "127.0.0.1:11111@42";
    private const string SiloName = "silo-1";
    private const string ErrorText = "not yet: ü"; // 0B 00 | 6E 6F 74 20 79 65 74 3A 20 C3 BC

    // ---- Batches -----------------------------------------------------------------------------

    /// <summary>Batch A: map 3, attempt 1, batch 0, one record "apple" (payload 9 bytes, batch 37 = 0x25).</summary>
    private static readonly byte[] BatchA = Hex(
        "03000000",           // i32 mapId 3
        "01000000",           // i32 attemptId 1
        "00000000",           // i32 batchId 0
        "09000000",           // i32 payloadLength 9
        "00",                 // u8 codec 0 (None)
        "00",                 // u8 reserved
        "0000",               // u16 reserved
        "09000000",           // i32 rawLength 9
        "B0AE70AE",           // u32 CRC-32C 0xAE70AEB0 of bytes 0-23 and the payload
        "05000000",           // payload: record length 5 (the reference client's u32 framing)
        "6170706C65");        // payload: "apple"

    /// <summary>Batch B: map 3, attempt 1, batch 0, one record "kiwi" (payload 8 bytes, batch 36 = 0x24).</summary>
    private static readonly byte[] BatchB = Hex(
        "03000000",           // i32 mapId 3
        "01000000",           // i32 attemptId 1
        "00000000",           // i32 batchId 0
        "08000000",           // i32 payloadLength 8
        "00",                 // u8 codec 0 (None)
        "00",                 // u8 reserved
        "0000",               // u16 reserved
        "08000000",           // i32 rawLength 8
        "6F7177F1",           // u32 CRC-32C 0xF177716F
        "04000000",           // payload: record length 4
        "6B697769");          // payload: "kiwi"

    /// <summary>Batch C: map 4, attempt 2, batch 1, one record "fig" (payload 7 bytes, batch 35 = 0x23).</summary>
    private static readonly byte[] BatchC = Hex(
        "04000000",           // i32 mapId 4
        "02000000",           // i32 attemptId 2
        "01000000",           // i32 batchId 1
        "07000000",           // i32 payloadLength 7
        "00",                 // u8 codec 0 (None)
        "00",                 // u8 reserved
        "0000",               // u16 reserved
        "07000000",           // i32 rawLength 7
        "C60D4A0F",           // u32 CRC-32C 0x0F4A0DC6
        "03000000",           // payload: record length 3
        "666967");            // payload: "fig"

    /// <summary>A batch whose payload is three opaque bytes: the silo never looks inside a payload.</summary>
    private static readonly byte[] OpaqueBatch = Hex(
        "05000000",           // i32 mapId 5
        "02000000",           // i32 attemptId 2
        "09000000",           // i32 batchId 9
        "03000000",           // i32 payloadLength 3
        "00",                 // u8 codec 0 (None)
        "00",                 // u8 reserved
        "0000",               // u16 reserved
        "03000000",           // i32 rawLength 3
        "033555CD",           // u32 CRC-32C 0xCD553503
        "010203");            // payload

    /// <summary>A batch with an empty payload: the checksum covers the 24 header bytes alone.</summary>
    private static readonly byte[] EmptyBatch = Hex(
        "05000000",           // i32 mapId 5
        "02000000",           // i32 attemptId 2
        "0A000000",           // i32 batchId 10
        "00000000",           // i32 payloadLength 0
        "00",                 // u8 codec 0 (None)
        "00",                 // u8 reserved
        "0000",               // u16 reserved
        "00000000",           // i32 rawLength 0
        "EA64C5DA");          // u32 CRC-32C 0xDAC564EA

    // ---- Frames ------------------------------------------------------------------------------

    /// <summary>Hello, the first request on a connection (request id 1).</summary>
    private static readonly byte[] HelloFrame = Hex(
        "0F000000",           // header: u32 bodyLength 15
        "0100",               // header: u16 messageType 1 (Hello)
        "00",                 // header: u8 flags none (a request)
        "00",                 // header: u8 reserved
        "0100000000000000",   // header: u64 requestId 1
        "4F534847",           // u32 magic 0x4748534F: "OSHG" on the wire
        "0400",               // u16 version 4
        "0700",               // string peerName: u16 byte length 7
        "67C3B66C64656E");    // "gölden" in UTF-8

    /// <summary>HelloOk, the silo's answer to request 1.</summary>
    private static readonly byte[] HelloOkFrame = Hex(
        "42000000",           // header: bodyLength 66
        "0100",               // header: messageType 1 (Hello: a reply keeps its request's type)
        "01",                 // header: flags Response
        "00",                 // header: reserved
        "0100000000000000",   // header: requestId 1
        "0400",               // u16 version 4
        "1200",               // string siloIdentity: length 18
        "3132372E302E302E313A31313131314034 32", // "127.0.0.1:11111@42"
        "0600",               // string siloName: length 6
        "73696C6F2D31",       // "silo-1"
        "20000000",           // bytes challenge: u32 length 32
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"); // the challenge (random on a real silo)

    /// <summary>The challenge of <see cref="HelloOkFrame"/>: bytes 0 to 31.</summary>
    private static readonly byte[] Challenge = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    /// <summary>The secret of application "app-1" in the Authenticate example: bytes 0x40 to 0x5F.</summary>
    private const string AppSecretBase64 = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

    /// <summary>
    /// Authenticate (request id 2) of application "app-1" after <see cref="HelloOkFrame"/>. The key and
    /// proof were computed with Python's hmac module from docs/protocol.md, not with our code:
    /// key = HMAC-SHA256(secret, "orleans-shuffle data-plane key v1") = 374E519E...C72A2F92;
    /// proof = HMAC-SHA256(key, "data v1\n" + challenge + "\n" + "127.0.0.1:11111@42" + "\n" + 0x01 + "\n" + "app-1").
    /// </summary>
    private static readonly byte[] AuthenticateFrame = Hex(
        "2C000000",           // header: bodyLength 44
        "0400",               // header: messageType 4 (Authenticate)
        "00",                 // header: flags none
        "00",                 // header: reserved
        "0200000000000000",   // header: requestId 2
        "01",                 // u8 kind 1 (Application)
        "0500",               // string name: length 5
        "6170702D31",         // "app-1"
        "20000000",           // bytes proof: u32 length 32
        "5DEF01267A4953394766902C26883C9DB1359A88425CCF964F99447096421B77");

    /// <summary>An error reply to a FetchChunk: code NotCommitted and a message.</summary>
    private static byte[] ErrorFrame(string requestIdHex) => Hex(
        "0F000000",           // header: bodyLength 15
        "1500",               // header: messageType 21 (FetchChunk)
        "03",                 // header: flags Response | Error
        "00",                 // header: reserved
        requestIdHex,         // header: requestId
        "0D00",               // u16 code 13 (NotCommitted)
        "0B00",               // string message: length 11
        "6E6F7420796574 3A20 C3BC"); // "not yet: ü"

    /// <summary>The body of a merged push of batch A to partition 0 epoch 0 and batch B to partition 2 epoch 1.</summary>
    private static readonly byte[] MergedPushBody = Hex(
        "0500", "6170702D31", // string appId "app-1"
        "07000000",           // i32 shuffleId 7
        "02000000",           // i32 entryCount 2
        "00000000",           // entry 0: i32 partitionId 0
        "00000000",           // entry 0: i32 epoch 0
        "25000000",           // entry 0: i32 batchLength 37
        Convert.ToHexString(BatchA),
        "02000000",           // entry 1: i32 partitionId 2
        "01000000",           // entry 1: i32 epoch 1
        "24000000",           // entry 1: i32 batchLength 36
        Convert.ToHexString(BatchB));

    /// <summary>PushData (request id 2) with <see cref="MergedPushBody"/>.</summary>
    private static readonly byte[] PushDataFrame = Hex(
        "70000000",           // header: bodyLength 112 = 15 + (12 + 37) + (12 + 36)
        "1400",               // header: messageType 20 (PushData)
        "00",                 // header: flags none
        "00",                 // header: reserved
        "0200000000000000",   // header: requestId 2
        Convert.ToHexString(MergedPushBody));

    /// <summary>ReplicateData (request id 2): the same body as PushData.</summary>
    private static readonly byte[] ReplicateDataFrame = Hex(
        "70000000",           // header: bodyLength 112
        "1600",               // header: messageType 22 (ReplicateData)
        "00",                 // header: flags none
        "00",                 // header: reserved
        "0200000000000000",   // header: requestId 2
        Convert.ToHexString(MergedPushBody));

    /// <summary>PushReply to request 2 with no splits.</summary>
    private static readonly byte[] EmptyPushReplyFrame = Hex(
        "04000000",           // header: bodyLength 4
        "1400",               // header: messageType 20 (PushData)
        "01",                 // header: flags Response
        "00",                 // header: reserved
        "0200000000000000",   // header: requestId 2
        "00000000");          // i32 count 0

    /// <summary>PushReply to request 2: partition 2 epoch 1 and partition 0 epoch 3 reached the split threshold.</summary>
    private static readonly byte[] SplitPushReplyFrame = Hex(
        "14000000",           // header: bodyLength 20
        "1400",               // header: messageType 20 (PushData)
        "01",                 // header: flags Response
        "00",                 // header: reserved
        "0200000000000000",   // header: requestId 2
        "02000000",           // i32 count 2
        "02000000",           // split 0: i32 partitionId 2
        "01000000",           // split 0: i32 epoch 1
        "00000000",           // split 1: i32 partitionId 0
        "03000000");          // split 1: i32 epoch 3

    /// <summary>FetchChunk (request id 2): chunk 3 of partition 2 epoch 1, all maps.</summary>
    private static readonly byte[] FetchChunkFrame = Hex(
        "1F000000",           // header: bodyLength 31
        "1500",               // header: messageType 21 (FetchChunk)
        "00",                 // header: flags none
        "00",                 // header: reserved
        "0200000000000000",   // header: requestId 2
        "0500", "6170702D31", // string appId "app-1"
        "07000000",           // i32 shuffleId 7
        "02000000",           // i32 partitionId 2
        "01000000",           // i32 epoch 1
        "03000000",           // i32 chunkIndex 3
        "00000000",           // i32 startMap 0
        "FFFFFF7F");          // i32 endMap 2147483647

    /// <summary>FetchChunk (request id 3): chunk 0 of partition 2 epoch 1, maps [4, 5).</summary>
    private static readonly byte[] FetchRangeFrame = Hex(
        "1F000000",           // header: bodyLength 31
        "1500",               // header: messageType 21 (FetchChunk)
        "00",                 // header: flags none
        "00",                 // header: reserved
        "0300000000000000",   // header: requestId 3
        "0500", "6170702D31", // string appId "app-1"
        "07000000",           // i32 shuffleId 7
        "02000000",           // i32 partitionId 2
        "01000000",           // i32 epoch 1
        "00000000",           // i32 chunkIndex 0
        "04000000",           // i32 startMap 4
        "05000000");          // i32 endMap 5

    /// <summary>The reply to request 2: a chunk of two batches (B of map 3, C of map 4), back to back.</summary>
    private static readonly byte[] FetchReplyFrame = Hex(
        "47000000",           // header: bodyLength 71 = 36 + 35
        "1500",               // header: messageType 21 (FetchChunk)
        "01",                 // header: flags Response
        "00",                 // header: reserved
        "0200000000000000",   // header: requestId 2
        Convert.ToHexString(BatchB),
        Convert.ToHexString(BatchC));

    /// <summary>The reply to request 3: the same chunk with only map 4's batch kept.</summary>
    private static readonly byte[] FetchRangeReplyFrame = Hex(
        "23000000",           // header: bodyLength 35
        "1500",               // header: messageType 21 (FetchChunk)
        "01",                 // header: flags Response
        "00",                 // header: reserved
        "0300000000000000",   // header: requestId 3
        Convert.ToHexString(BatchC));

    // ---- The vectors themselves --------------------------------------------------------------

    [Fact]
    public void The_reference_checksum_is_CRC32C()
    {
        // The check value of CRC-32C (RFC 3720, B.4): "123456789" -> 0xE3069283.
        Assert.Equal(0xE3069283u, TestBatches.ReferenceCrc32C("123456789"u8));
        Assert.Equal(0u, TestBatches.ReferenceCrc32C([]));
        // RFC 3720 B.4: 32 bytes of zeros -> 0x8A9136AA.
        Assert.Equal(0x8A9136AAu, TestBatches.ReferenceCrc32C(new byte[32]));
    }

    public static IEnumerable<object[]> GoldenBatches => new[]
    {
        new object[] { "A", BatchA }, new object[] { "B", BatchB }, new object[] { "C", BatchC },
        new object[] { "opaque", OpaqueBatch }, new object[] { "empty", EmptyBatch },
    };

    [Theory]
    [MemberData(nameof(GoldenBatches))]
    public void Each_golden_batch_carries_the_CRC32C_of_its_header_and_payload(string name, byte[] batch)
    {
        uint stored = (uint)(batch[24] | batch[25] << 8 | batch[26] << 16 | batch[27] << 24);
        Assert.True(TestBatches.ReferenceCrc32C([.. batch[..24], .. batch[28..]]) == stored, $"batch {name}");
        int payloadLength = batch[12] | batch[13] << 8 | batch[14] << 16 | batch[15] << 24;
        Assert.Equal(batch.Length, 28 + payloadLength);
    }

    [Fact]
    public void Batch_header_writes_and_reads_the_golden_bytes()
    {
        foreach (var (golden, mapId, attemptId, batchId) in new[] { (OpaqueBatch, 5, 2, 9), (EmptyBatch, 5, 2, 10), (BatchC, 4, 2, 1) })
        {
            var payload = golden[BatchHeader.Size..];
            var written = new byte[BatchHeader.Size + payload.Length];
            payload.CopyTo(written, BatchHeader.Size);
            BatchHeader.Write(written, mapId, attemptId, batchId, payload);
            Assert.Equal(golden, written);

            Assert.True(BatchHeader.TryRead(golden, out var header));
            uint crc = (uint)(golden[24] | golden[25] << 8 | golden[26] << 16 | golden[27] << 24);
            Assert.Equal(new BatchHeader(mapId, attemptId, batchId, payload.Length, BatchCodec.None, payload.Length, crc), header);
            Assert.True(header.Verify(golden, payload));
            Assert.Equal(golden.Length, header.TotalLength);
        }
    }

    [Fact]
    public void Frame_header_fields_sit_at_their_offsets_little_endian()
    {
        var golden = Hex(
            "03000000",         // u32 bodyLength 3
            "1605",             // u16 messageType 0x0516
            "03",               // u8 flags Response | Error
            "00",               // u8 reserved
            "0807060504030201", // u64 requestId 0x0102030405060708
            "AABBCC");          // body
        var header = new FrameHeader(3, (MessageType)0x0516, FrameFlags.Response | FrameFlags.Error, 0x0102030405060708);
        var written = new byte[FrameHeader.Size];
        header.Write(written);
        Assert.Equal(golden[..FrameHeader.Size], written);

        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(golden));
        Assert.True(FrameCodec.TryRead(ref reader, Max, out var frame, out var error));
        Assert.Equal(FrameError.None, error);
        Assert.Equal(header, frame.Header);
        Assert.Equal(Hex("AABBCC"), frame.Body.ToArray());
        Assert.Equal(golden.Length, reader.Consumed);
    }

    [Fact]
    public void Version_constants_are_those_of_the_doc()
    {
        var magic = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, ProtocolConstants.Magic);
        Assert.Equal(Hex("4F534847"), magic);
        Assert.Equal("OSHG", Encoding.ASCII.GetString(magic));
        Assert.Equal(4, ProtocolConstants.Version);
        Assert.Equal(32 * 1024 * 1024, ProtocolConstants.DefaultMaxFrameBodyBytes);
        Assert.Equal(16 * 1024 * 1024, ProtocolConstants.MaxBatchPayloadBytes);
        Assert.Equal(4096, ProtocolConstants.MaxStringBytes);
        Assert.Equal(28, BatchHeader.Size);
        Assert.Equal(16, FrameHeader.Size);
        Assert.Equal((1, 2), ((int)FrameFlags.Response, (int)FrameFlags.Error));
    }

    [Fact]
    public void Error_codes_have_the_numbers_of_the_doc_table()
    {
        string[] table =
        [
            "VersionMismatch", "HandshakeRequired", "MalformedFrame", "FrameTooLarge", "UnknownMessageType", "InvalidId",
            "InvalidArgument", "UnknownApplication", "UnknownShuffle", "UnknownPartition", "ChecksumMismatch", "ShuffleMismatch",
            "NotCommitted", "PartitionCommitted", "NoSlots", "SiloUnavailable", "ShuttingDown", "MapEnded", "DataLost", "Timeout",
            "ConnectionLost", "StorageFailure", "Internal", "ReplicationFailed", "QuotaExceeded", "Unauthorized",
        ];
        var expected = table.Select((name, i) => (name, i + 1)).Prepend(("None", 0));
        Assert.Equal(expected, Enum.GetValues<GridErrorCode>().Select(c => (c.ToString(), (int)c)));
    }

    [Fact]
    public void Message_bodies_read_from_the_golden_bytes()
    {
        Assert.Equal(new Hello(ProtocolConstants.Magic, 4, PeerName), MessageSamples.ReadWhole<Hello>(HelloFrame[FrameHeader.Size..]));
        var ok = MessageSamples.ReadWhole<HelloOk>(HelloOkFrame[FrameHeader.Size..]);
        Assert.Equal((4, SiloIdentity, SiloName), (ok.Version, ok.SiloIdentity, ok.SiloName));
        Assert.Equal(Challenge, ok.Challenge);
        var authenticate = MessageSamples.ReadWhole<Authenticate>(AuthenticateFrame[FrameHeader.Size..]);
        Assert.Equal((PrincipalKind.Application, AppId), (authenticate.Kind, authenticate.Name));
        Assert.Equal(AuthenticateFrame[^32..], authenticate.Proof);
        Assert.Equal(new ErrorReply(GridErrorCode.NotCommitted, ErrorText), MessageSamples.ReadWhole<ErrorReply>(ErrorFrame("0100000000000000")[FrameHeader.Size..]));
        Assert.Equal(new FetchChunk(AppId, ShuffleId, 2, 1, 3, 0, int.MaxValue), MessageSamples.ReadWhole<FetchChunk>(FetchChunkFrame[FrameHeader.Size..]));
        Assert.Equal(new FetchChunk(AppId, ShuffleId, 2, 1, 0, 4, 5), MessageSamples.ReadWhole<FetchChunk>(FetchRangeFrame[FrameHeader.Size..]));
        Assert.Empty(MessageSamples.ReadWhole<PushReply>(EmptyPushReplyFrame[FrameHeader.Size..]).Splits);
        Assert.Equal([new PartitionRef(2, 1), new PartitionRef(0, 3)], MessageSamples.ReadWhole<PushReply>(SplitPushReplyFrame[FrameHeader.Size..]).Splits);
    }

    [Fact]
    public void Message_bodies_write_the_golden_bytes()
    {
        Assert.Equal(HelloFrame, Framed(MessageType.Hello, FrameFlags.None, 1, Hello.ForThisBuild(PeerName)));
        Assert.Equal(HelloOkFrame, Framed(MessageType.Hello, FrameFlags.Response, 1, new HelloOk(4, SiloIdentity, SiloName, Challenge)));
        var credential = DataPlaneCredential.ForApplication(AppId, ApplicationSecret.FromBase64(AppSecretBase64));
        Assert.Equal(AuthenticateFrame, Framed(MessageType.Authenticate, FrameFlags.None, 2,
            new Authenticate(PrincipalKind.Application, AppId, credential.Prove(Challenge, SiloIdentity))));
        Assert.Equal(FetchChunkFrame, Framed(MessageType.FetchChunk, FrameFlags.None, 2, new FetchChunk(AppId, ShuffleId, 2, 1, 3, 0, int.MaxValue)));
        Assert.Equal(EmptyPushReplyFrame, Framed(MessageType.PushData, FrameFlags.Response, 2, PushReply.None));
        Assert.Equal(SplitPushReplyFrame, Framed(MessageType.PushData, FrameFlags.Response, 2, new PushReply([new(2, 1), new(0, 3)])));
        var body = new PushDataBody(AppId, ShuffleId, 2, new ReadOnlySequence<byte>(MergedPushBody[15..]));
        Assert.Equal(PushDataFrame, Framed(MessageType.PushData, FrameFlags.None, 2, body));

        using var error = new PooledBufferWriter(64);
        FrameWriter.WriteError(error, MessageType.FetchChunk, 0x0102030405060708, GridErrorCode.NotCommitted, ErrorText);
        Assert.Equal(ErrorFrame("0807060504030201"), error.WrittenSpan.ToArray());
    }

    private static byte[] Framed<T>(MessageType type, FrameFlags flags, ulong requestId, T body) where T : IWireMessage<T>
    {
        using var output = new PooledBufferWriter(64);
        FrameWriter.Write(output, type, flags, requestId, body, Max);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>A frame as a sender that gathers writes puts it on the wire: the serialized head, then the trailer from its own buffer.</summary>
    private static byte[] Framed<T>(MessageType type, FrameFlags flags, ulong requestId, T head, ReadOnlySpan<byte> trailer) where T : IWireMessage<T>
    {
        using var output = new PooledBufferWriter(64);
        FrameWriter.Write(output, type, flags, requestId, head, Max, trailer.Length);
        return [.. output.WrittenSpan, .. trailer];
    }

    [Fact]
    public void A_merged_push_reads_back_entry_by_entry_from_the_golden_bytes()
    {
        foreach (var (golden, type, requestId) in new[] { (PushDataFrame, MessageType.PushData, 2UL), (ReplicateDataFrame, MessageType.ReplicateData, 2UL) })
        {
            var input = new SequenceReader<byte>(new ReadOnlySequence<byte>(golden));
            Assert.True(FrameCodec.TryRead(ref input, Max, out var frame, out _));
            Assert.Equal(new FrameHeader(112, type, FrameFlags.None, requestId), frame.Header);

            // The silo's reading: the fixed part, then each entry's header and its batch.
            var reader = new WireReader(frame.Body);
            Assert.Equal((AppId, ShuffleId, 2), PushData.ReadHeader(ref reader));
            var entries = new List<(int Partition, int Epoch, BatchHeader Header, byte[] Payload)>();
            for (int i = 0; i < 2; i++)
            {
                int partition = reader.ReadInt32(), epoch = reader.ReadInt32(), length = reader.ReadInt32();
                var batch = reader.ReadRaw(length).ToArray();
                Assert.True(BatchHeader.TryRead(batch, out var header));
                Assert.Equal(length, header.TotalLength);
                Assert.True(header.Verify(batch, batch.AsSpan(BatchHeader.Size)));
                entries.Add((partition, epoch, header, batch[BatchHeader.Size..]));
            }
            reader.EnsureEnd();

            Assert.Equal((0, 0, new BatchHeader(3, 1, 0, 9, BatchCodec.None, 9, 0xAE70AEB0)), (entries[0].Partition, entries[0].Epoch, entries[0].Header));
            Assert.Equal((2, 1, new BatchHeader(3, 1, 0, 8, BatchCodec.None, 8, 0xF177716F)), (entries[1].Partition, entries[1].Epoch, entries[1].Header));
            Assert.Equal(TestBatches.FrameRecords(["apple"]), entries[0].Payload);
            Assert.Equal(TestBatches.FrameRecords(["kiwi"]), entries[1].Payload);
        }
    }

    [Fact]
    public async Task A_shuffle_writer_pushes_the_golden_merged_push()
    {
        // The client's whole push path: records into partition buffers, sealed into batches with
        // their headers and checksums, merged for the silo, framed and sent by GridConnection.
        await using var silo = await ScriptedSilo.StartAsync();
        var (socket, connection) = await silo.ConnectClientAsync();
        var endpoint = new SiloEndpoint(SiloIdentity, SiloName, "127.0.0.1", silo.Port);
        PartitionLocation[] locations = [new(0, 0, endpoint), new(1, 0, endpoint), new(2, 1, endpoint)];
        await using var writer = new ShuffleWriter(new ConnectionTransport(connection), new GridClientOptions(), AppId, ShuffleId, 3, 1, locations);
        await writer.WriteAsync(0, "apple"u8.ToArray());
        await writer.WriteAsync(2, "kiwi"u8.ToArray());
        var closing = writer.CloseAsync();

        Assert.Equal(PushDataFrame, await socket.ReceiveRawFrameAsync());
        await socket.SendAsync(EmptyPushReplyFrame);
        Assert.Equal(new MapperEndReply(true, 1, true), await closing);
        Assert.Equal((2L, 1L), (writer.BatchesPushed, writer.PushRequests));
    }

    [Fact]
    public async Task A_primary_replicates_with_the_golden_ReplicateData()
    {
        await using var silo = await ScriptedSilo.StartAsync();
        var replica = new SiloEndpoint("127.0.0.1:22222@7", "silo-2", "127.0.0.1", silo.Port);
        var push = new ReplicaPush(replica, AppId, ShuffleId);
        push.Add(0, 0, new ReadOnlySequence<byte>(BatchA));
        push.Add(2, 1, new ReadOnlySequence<byte>(BatchB));
        Assert.Equal(2, push.Count);
        Assert.Equal(ReplicateDataFrame, Framed(MessageType.ReplicateData, FrameFlags.None, 2, push.Head, push.Entries.WrittenSpan));

        // The silo's whole replication path: its connection pool connects (Hello), the forwarder sends, the replica acknowledges.
        await using var pool = new SiloConnectionPool(ClientOptions());
        var forwarding = new ReplicaForwarder(pool, TimeProvider.System).ForwardAsync([push]);
        var socket = await silo.AcceptAsync();
        Assert.Equal(ReplicateDataFrame, await socket.ReceiveRawFrameAsync());
        await socket.SendAsync(Hex(
            "04000000",         // header: bodyLength 4
            "1600",             // header: messageType 22 (ReplicateData)
            "01",               // header: flags Response
            "00",               // header: reserved
            "0200000000000000", // header: requestId 2
            "00000000"));       // PushReply: i32 count 0
        await forwarding;
    }

    [Fact]
    public async Task The_client_handshake_is_the_golden_Hello_and_reads_the_golden_HelloOk()
    {
        await using var silo = await ScriptedSilo.StartAsync();
        var (_, connection) = await silo.ConnectClientAsync();
        Assert.Equal((4, SiloIdentity, SiloName), (connection.Remote.Version, connection.Remote.SiloIdentity, connection.Remote.SiloName));
        Assert.Equal(Challenge, connection.Remote.Challenge);
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task The_silo_answers_Hello_with_the_golden_HelloOk()
    {
        var written = await SiloWritesAsync(r => r.ReplyAsync(new FrameHeader(15, MessageType.Hello, FrameFlags.None, 1), new HelloOk(4, SiloIdentity, SiloName, Challenge)));
        Assert.Equal(HelloOkFrame, written);
    }

    [Fact]
    public async Task Error_replies_are_the_golden_bytes_both_ways()
    {
        var written = await SiloWritesAsync(r => r.ReplyErrorAsync(
            new FrameHeader(31, MessageType.FetchChunk, FrameFlags.None, 0x0102030405060708), GridErrorCode.NotCommitted, ErrorText));
        Assert.Equal(ErrorFrame("0807060504030201"), written);

        await using var silo = await ScriptedSilo.StartAsync();
        var (socket, connection) = await silo.ConnectClientAsync();
        var fetching = connection.SendAsync(MessageType.FetchChunk, new FetchChunk(AppId, ShuffleId, 2, 1, 3, 0, int.MaxValue));
        Assert.Equal(FetchChunkFrame, await socket.ReceiveRawFrameAsync());
        await socket.SendAsync(ErrorFrame("0200000000000000"));
        var e = await Assert.ThrowsAsync<GridException>(() => fetching.AsTask());
        Assert.Equal((GridErrorCode.NotCommitted, ErrorText), (e.Code, e.Message));
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task PushReplies_are_the_golden_bytes_both_ways()
    {
        var request = new FrameHeader(96, MessageType.PushData, FrameFlags.None, 2);
        Assert.Equal(EmptyPushReplyFrame, await SiloWritesAsync(r => r.ReplyAsync(request, PushReply.None)));
        Assert.Equal(SplitPushReplyFrame, await SiloWritesAsync(r => r.ReplyAsync(request, new PushReply([new(2, 1), new(0, 3)]))));

        await using var silo = await ScriptedSilo.StartAsync();
        var (socket, connection) = await silo.ConnectClientAsync();
        var body = new PushDataBody(AppId, ShuffleId, 2, new ReadOnlySequence<byte>(MergedPushBody[15..]));
        var pushing = connection.SendAsync(MessageType.PushData, body);
        Assert.Equal(PushDataFrame, await socket.ReceiveRawFrameAsync());
        await socket.SendAsync(SplitPushReplyFrame);
        using var reply = await pushing;
        Assert.Equal([new PartitionRef(2, 1), new PartitionRef(0, 3)], reply.Read<PushReply>().Splits);
    }

    [Fact]
    public async Task Fetch_requests_and_chunk_replies_are_the_golden_bytes_both_ways()
    {
        // The silo's side: batches B and C appended to a partition file, committed, read back as chunk 0.
        using var temp = new TempDirectory("oshuffle-golden");
        using var flusher = new DiskFlusher("golden", _ => { });
        using (var file = new PartitionFileWriter(temp.Combine("p2-1.data"), flusher, new MemoryBudget(1 << 20), 4096, 1 << 20))
        {
            foreach (var batch in new[] { BatchB, BatchC })
            {
                Assert.True(BatchHeader.TryRead(batch, out var header));
                file.Append(new ReadOnlySequence<byte>(batch), header);
            }
            var committed = await file.CommitAsync(fsync: false);
            Assert.Equal((71L, 2, 1), (committed.Bytes, committed.BatchCount, committed.ChunkCount));
            Assert.Equal(FetchReplyFrame, await SiloWritesChunkAsync(file, new FrameHeader(31, MessageType.FetchChunk, FrameFlags.None, 2), 0, 0, int.MaxValue));
            Assert.Equal(FetchRangeReplyFrame, await SiloWritesChunkAsync(file, new FrameHeader(31, MessageType.FetchChunk, FrameFlags.None, 3), 0, 4, 5));
        }

        // The client's side: the golden requests go out, the golden replies are read as two batches, then one.
        await using var silo = await ScriptedSilo.StartAsync();
        var (socket, connection) = await silo.ConnectClientAsync();
        var fetching = connection.SendAsync(MessageType.FetchChunk, new FetchChunk(AppId, ShuffleId, 2, 1, 3, 0, int.MaxValue));
        Assert.Equal(FetchChunkFrame, await socket.ReceiveRawFrameAsync());
        await socket.SendAsync(FetchReplyFrame);
        var response = await fetching;
        using (var chunk = new FetchedChunk(response.Memory, response))
        {
            chunk.Verify();
            Assert.Equal(2, chunk.BatchCount);
            int offset = 0;
            Assert.True(chunk.TryReadBatch(ref offset, out var b, out var payloadB));
            Assert.Equal(new BatchHeader(3, 1, 0, 8, BatchCodec.None, 8, 0xF177716F), b);
            Assert.Equal(TestBatches.FrameRecords(["kiwi"]), payloadB.ToArray());
            Assert.True(chunk.TryReadBatch(ref offset, out var c, out var payloadC));
            Assert.Equal(new BatchHeader(4, 2, 1, 7, BatchCodec.None, 7, 0x0F4A0DC6), c);
            Assert.Equal(TestBatches.FrameRecords(["fig"]), payloadC.ToArray());
            Assert.False(chunk.TryReadBatch(ref offset, out _, out _));
        }

        var ranged = connection.SendAsync(MessageType.FetchChunk, new FetchChunk(AppId, ShuffleId, 2, 1, 0, 4, 5));
        Assert.Equal(FetchRangeFrame, await socket.ReceiveRawFrameAsync());
        await socket.SendAsync(FetchRangeReplyFrame);
        using var rangedReply = await ranged;
        Assert.Equal(BatchC, rangedReply.Memory.ToArray());
    }

    /// <summary>What the silo's reply writer puts on the connection for one call.</summary>
    private static async Task<byte[]> SiloWritesAsync(Func<ConnectionResponder, ValueTask> reply)
    {
        var pipe = new Pipe();
        await reply(new ConnectionResponder(pipe.Writer, Max));
        await pipe.Writer.CompleteAsync();
        using var written = new MemoryStream();
        await pipe.Reader.CopyToAsync(written);
        await pipe.Reader.CompleteAsync();
        return written.ToArray();
    }

    /// <summary>A chunk of a committed file as the silo's fetch handler sends it: read, then written raw behind a reply header.</summary>
    private static async Task<byte[]> SiloWritesChunkAsync(PartitionFileWriter file, FrameHeader request, int chunkIndex, int startMap, int endMap)
    {
        var (buffer, length) = file.ReadChunk(chunkIndex, startMap, endMap);
        try
        {
            return await SiloWritesAsync(r => r.ReplyRawAsync(request, buffer.AsMemory(0, length)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static GridConnectionOptions ClientOptions() =>
        new() { PeerName = PeerName, ConnectTimeout = TimeSpan.FromSeconds(30), RequestTimeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// A loopback listener that plays the silo with golden bytes: every connection it accepts must
    /// open with <see cref="HelloFrame"/>, and it answers <see cref="HelloOkFrame"/>.
    /// </summary>
    private sealed class ScriptedSilo : IAsyncDisposable
    {
        private readonly TcpListener _listener = RawGridSocket.Listen();
        private readonly List<IAsyncDisposable> _owned = [];

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static Task<ScriptedSilo> StartAsync() => Task.FromResult(new ScriptedSilo());

        /// <summary>Accepts the next connection and completes its handshake with the golden frames.</summary>
        public async Task<RawGridSocket> AcceptAsync()
        {
            var socket = await RawGridSocket.AcceptAsync(_listener);
            _owned.Add(socket);
            Assert.Equal(HelloFrame, await socket.ReceiveRawFrameAsync());
            await socket.SendAsync(HelloOkFrame);
            return socket;
        }

        /// <summary>A project client connection to this listener, handshake done.</summary>
        public async Task<(RawGridSocket Socket, GridConnection Connection)> ConnectClientAsync()
        {
            var connecting = GridConnection.ConnectAsync("127.0.0.1", Port, ClientOptions());
            var socket = await AcceptAsync();
            var connection = await connecting;
            _owned.Insert(0, connection);
            return (socket, connection);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var owned in _owned) await owned.DisposeAsync();
            _listener.Stop();
        }
    }

    /// <summary>The push seam of <see cref="ShuffleWriter"/>, sending as the client's transport does: over one GridConnection.</summary>
    private sealed class ConnectionTransport(GridConnection connection) : IPushTransport
    {
        public async ValueTask<PushReply> PushAsync(string host, int port, PushDataBody body, CancellationToken cancellationToken)
        {
            using var reply = await connection.SendAsync(MessageType.PushData, body, cancellationToken).ConfigureAwait(false);
            return reply.Read<PushReply>();
        }

        public Task<IReadOnlyList<PartitionLocation>> ReviveAsync(
            string appId, int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("No push of this test fails or splits.");

        public Task<MapperEndReply> MapperEndAsync(string appId, int shuffleId, int mapId, int attemptId, CancellationToken cancellationToken) =>
            Task.FromResult(new MapperEndReply(true, attemptId, true));

        public void OnPushFailed(string appId, int shuffleId) => throw new InvalidOperationException("No push of this test fails.");
    }
}
