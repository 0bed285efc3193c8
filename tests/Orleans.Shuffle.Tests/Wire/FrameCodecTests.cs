using System.Buffers;
using System.Buffers.Binary;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

public class FrameCodecTests
{
    private const int Max = ProtocolConstants.DefaultMaxFrameBodyBytes;

    /// <summary>FrameWriter -> FrameCodec.TryRead: the frame's header and body.</summary>
    private static (FrameHeader Header, byte[] Body) Frame<T>(MessageType type, T message, FrameFlags flags, ulong requestId) where T : IWireMessage<T>
    {
        using var output = new PooledBufferWriter(32);
        FrameWriter.Write(output, type, flags, requestId, message, Max);
        var bytes = output.WrittenSpan.ToArray();

        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(FrameCodec.TryRead(ref reader, Max, out var frame, out var error));
        Assert.Equal(FrameError.None, error);
        Assert.Equal(bytes.Length, reader.Consumed);
        Assert.Equal(new FrameHeader(bytes.Length - FrameHeader.Size, type, flags, requestId), frame.Header);
        Assert.Equal(frame.Header.BodyLength, frame.Body.Length);
        return (frame.Header, frame.Body.ToArray());
    }

    /// <summary>FrameWriter -> FrameCodec.TryRead -> T.Read of the whole body.</summary>
    private static T RoundTrip<T>(MessageType type, T message, FrameFlags flags = FrameFlags.None, ulong requestId = 77) where T : IWireMessage<T> =>
        MessageSamples.ReadWhole<T>(Frame(type, message, flags, requestId).Body);

    [Fact]
    public void Hello_and_HelloOk_round_trip()
    {
        var hello = Hello.ForThisBuild("peer-ü");
        Assert.Equal(hello, RoundTrip(MessageType.Hello, hello, requestId: 1));
        Assert.Equal((ProtocolConstants.Magic, ProtocolConstants.Version), (hello.Magic, hello.Version));
        Assert.Equal((0x4748534Fu, (ushort)4), (ProtocolConstants.Magic, ProtocolConstants.Version));
        var ok = new HelloOk(ProtocolConstants.Version, "127.0.0.1:11111@9", "silo", [1, 2, 3]);
        var read = RoundTrip(MessageType.Hello, ok, FrameFlags.Response, requestId: 1);
        Assert.Equal((ok.Version, ok.SiloIdentity, ok.SiloName), (read.Version, read.SiloIdentity, read.SiloName));
        Assert.Equal(ok.Challenge, read.Challenge);
    }

    [Fact]
    public void ErrorReply_round_trips_and_long_messages_are_cut_to_1024_chars()
    {
        var error = new ErrorReply(GridErrorCode.ChecksumMismatch, "bad crc");
        Assert.Equal(error, RoundTrip(MessageType.PushData, error, FrameFlags.Response | FrameFlags.Error));
        var longOne = RoundTrip(MessageType.PushData, new ErrorReply(GridErrorCode.Internal, new string('x', 3000)));
        Assert.Equal(GridErrorCode.Internal, longOne.Code);
        Assert.Equal(new string('x', 1024), longOne.Message);
    }

    [Fact]
    public void FetchChunk_round_trips()
    {
        var full = new FetchChunk("a", 1, 2, 3, 4, 0, int.MaxValue);
        Assert.Equal(full, RoundTrip(MessageType.FetchChunk, full));
        Assert.True(full.IsFullRange);
        var range = new FetchChunk("app-1.x_y", 0, 999_999, 7, 0, 5, 6);
        Assert.Equal(range, RoundTrip(MessageType.FetchChunk, range));
        Assert.False(range.IsFullRange);
    }

    [Fact]
    public void PushReply_round_trips_empty_and_with_splits()
    {
        Assert.Empty(RoundTrip(MessageType.PushData, PushReply.None, FrameFlags.Response).Splits);
        Assert.Equal(4, Frame(MessageType.PushData, PushReply.None, FrameFlags.Response, 2).Body.Length);
        PartitionRef[] splits = [new(0, 0), new(7, 2), new(999_999, 1)];
        Assert.Equal(splits, RoundTrip(MessageType.ReplicateData, new PushReply(splits), FrameFlags.Response).Splits);
    }

    private static readonly byte[] BatchA = TestBatches.Make(3, 1, 0, TestBatches.FrameRecords(["apple"]));
    private static readonly byte[] BatchB = TestBatches.Make(4, 0, 2, TestBatches.FrameRecords(["kiwi", "fig"]));

    private static byte[] Entries(params (int Partition, int Epoch, byte[] Batch)[] entries)
    {
        using var output = new PooledBufferWriter(64);
        var writer = new WireWriter(output);
        foreach (var (partition, epoch, batch) in entries)
        {
            writer.WriteInt32(partition);
            writer.WriteInt32(epoch);
            writer.WriteInt32(batch.Length);
            writer.WriteRaw(batch);
        }
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void A_merged_PushData_round_trips_header_and_entries()
    {
        var entries = Entries((0, 0, BatchA), (5, 2, BatchB));
        var body = new PushDataBody("app-1", 3, 2, new ReadOnlySequence<byte>(entries));
        var (_, bytes) = Frame(MessageType.PushData, body, FrameFlags.None, 9);

        var reader = new WireReader(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(("app-1", 3, 2), PushData.ReadHeader(ref reader));
        var read = new List<(int, int, BatchHeader, byte[])>();
        for (int i = 0; i < 2; i++)
        {
            int partition = reader.ReadInt32(), epoch = reader.ReadInt32(), length = reader.ReadInt32();
            var batch = reader.ReadRaw(length).ToArray();
            Assert.True(BatchHeader.TryRead(batch, out var header));
            Assert.True(header.Verify(batch, batch.AsSpan(BatchHeader.Size)));
            read.Add((partition, epoch, header, batch));
        }
        reader.EnsureEnd();
        Assert.Equal([0, 5], read.Select(e => e.Item1));
        Assert.Equal([0, 2], read.Select(e => e.Item2));
        Assert.Equal([(3, 1, 0), (4, 0, 2)], read.Select(e => (e.Item3.MapId, e.Item3.AttemptId, e.Item3.BatchId)));
        Assert.Equal(BatchA, read[0].Item4);
        Assert.Equal(BatchB, read[1].Item4);

        // The client's own reader of the fixed part leaves the entries as they are.
        var again = MessageSamples.ReadWhole<PushDataBody>(bytes);
        Assert.Equal(("app-1", 3, 2), (again.AppId, again.ShuffleId, again.EntryCount));
        Assert.Equal(entries, again.Entries.ToArray());
    }

    [Fact]
    public void ReplicateData_has_the_PushData_body()
    {
        var peer = new SiloEndpoint("127.0.0.1:11111@1", "replica", "127.0.0.1", 11200);
        using var push = new ReplicaPush(peer, "app-1", 3);
        push.Add(0, 0, new ReadOnlySequence<byte>(BatchA));
        push.Add(5, 2, new ReadOnlySequence<byte>(BatchB));
        // As the forwarder sends it: the header serialized, the entries gathered from the push's buffer.
        using var output = new PooledBufferWriter(32);
        FrameWriter.Write(output, MessageType.ReplicateData, FrameFlags.None, 4, push.Head, Max, push.Entries.WrittenCount);
        byte[] bytes = [.. output.WrittenSpan, .. push.Entries.WrittenSpan];
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(FrameCodec.TryRead(ref reader, Max, out var frame, out _));
        Assert.Equal(MessageType.ReplicateData, frame.Header.Type);
        Assert.Equal(bytes.Length - FrameHeader.Size, frame.Header.BodyLength);
        var replicated = frame.Body.ToArray();

        var pushed = MessageSamples.BodyOf(new PushDataBody("app-1", 3, 2, new ReadOnlySequence<byte>(Entries((0, 0, BatchA), (5, 2, BatchB)))));
        Assert.Equal(pushed, replicated);
    }

    [Fact]
    public void An_empty_body_is_a_bare_header()
    {
        // A fetch reply whose map range keeps no batch has no body at all.
        var (header, body) = Frame(MessageType.FetchChunk, new RawBody(Array.Empty<byte>()), FrameFlags.Response, 3);
        Assert.Equal(0, header.BodyLength);
        Assert.Empty(body);
    }

    [Theory]
    [MemberData(nameof(MessageSamples.Names), MemberType = typeof(MessageSamples))]
    public void Every_sample_reads_back_to_the_same_bytes(string name)
    {
        var sample = MessageSamples.Get(name);
        var message = sample.Read(new ReadOnlySequence<byte>(sample.Body));
        Assert.Equal(sample.Body, sample.Write(message));
    }

    /// <summary>All samples back to back, each with its own request id (its index + 1).</summary>
    private static byte[] Stream()
    {
        using var output = new PooledBufferWriter(256);
        for (int i = 0; i < MessageSamples.All.Count; i++) MessageSamples.All[i].WriteFrame(output, (ulong)i + 1);
        return output.WrittenSpan.ToArray();
    }

    private static void AssertParsesToAllSamples(ReadOnlySequence<byte> input)
    {
        var reader = new SequenceReader<byte>(input);
        int index = 0;
        FrameError error;
        // Bounded: each successful read consumes at least a header.
        while (FrameCodec.TryRead(ref reader, Max, out var frame, out error))
        {
            var sample = MessageSamples.All[index];
            Assert.Equal(new FrameHeader(sample.Body.Length, sample.Type, sample.Flags, (ulong)index + 1), frame.Header);
            Assert.Equal(sample.Body, frame.Body.ToArray());
            Assert.Equal(sample.Body, sample.Write(sample.Read(frame.Body)));
            index++;
        }
        Assert.Equal(FrameError.None, error);
        Assert.Equal(MessageSamples.All.Count, index);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void Frames_split_at_every_byte_boundary_parse_identically()
    {
        var stream = Stream();
        AssertParsesToAllSamples(new ReadOnlySequence<byte>(stream));
        for (int cut = 1; cut < stream.Length; cut++)
        {
            AssertParsesToAllSamples(Sequences.Split(stream, cut));
            AssertParsesToAllSamples(Sequences.Split(stream, cut, cut + 3, cut + 17));
        }
        AssertParsesToAllSamples(Sequences.Bytewise(stream));
    }

    [Theory]
    [MemberData(nameof(MessageSamples.Names), MemberType = typeof(MessageSamples))]
    public void Truncated_frames_wait_for_more_and_consume_nothing(string name)
    {
        var sample = MessageSamples.Get(name);
        using var output = new PooledBufferWriter(64);
        sample.WriteFrame(output, 9);
        var frame = output.WrittenSpan.ToArray();
        for (int length = 0; length < frame.Length; length++)
        {
            foreach (var input in new[] { new ReadOnlySequence<byte>(frame, 0, length), Sequences.Split(frame.AsSpan(0, length), length / 2) })
            {
                var reader = new SequenceReader<byte>(input);
                Assert.False(FrameCodec.TryRead(ref reader, Max, out _, out var error));
                Assert.Equal(FrameError.None, error);
                Assert.Equal(0, reader.Consumed);
            }
        }
    }

    private static byte[] Header(int bodyLength, ushort type = (ushort)MessageType.FetchChunk, byte flags = 0, byte reserved = 0, ulong requestId = 1)
    {
        var header = new byte[FrameHeader.Size];
        BinaryPrimitives.WriteInt32LittleEndian(header, bodyLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), type);
        header[6] = flags;
        header[7] = reserved;
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), requestId);
        return header;
    }

    private static (bool Ok, FrameError Error, long Consumed) Parse(byte[] input, int max = Max)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(input));
        bool ok = FrameCodec.TryRead(ref reader, max, out _, out var error);
        return (ok, error, reader.Consumed);
    }

    [Theory]
    [InlineData(Max + 1)]
    [InlineData(int.MaxValue)]
    [InlineData(-1)] // u32 0xFFFFFFFF
    [InlineData(int.MinValue)] // u32 0x80000000
    public void Oversized_or_negative_length_is_Oversized(int bodyLength)
    {
        Assert.Equal((false, FrameError.Oversized, 0L), Parse(Header(bodyLength)));
    }

    [Fact]
    public void Length_at_the_limit_is_accepted()
    {
        var input = Header(100).Concat(new byte[100]).ToArray();
        Assert.Equal((true, FrameError.None, 116L), Parse(input, max: 100));
        Assert.Equal((false, FrameError.Oversized, 0L), Parse(input, max: 99));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 0xFF)]
    [InlineData(4, 0)] // version 1's Forwarded flag
    [InlineData(5, 0)]
    [InlineData(8, 0)]
    [InlineData(0x80, 0)]
    [InlineData(0xF8, 0)]
    public void Reserved_byte_or_unknown_flags_are_Malformed(byte flags, byte reserved)
    {
        // Malformed is reported from the header alone, before the body arrives.
        Assert.Equal((false, FrameError.Malformed, 0L), Parse(Header(10, flags: flags, reserved: reserved)));
        Assert.Equal((false, FrameError.Malformed, 0L), Parse(Header(0, flags: flags, reserved: reserved)));
    }

    [Fact]
    public void Exactly_the_Response_and_Error_bits_are_accepted()
    {
        for (int flags = 0; flags <= 0xFF; flags++)
        {
            var (ok, error, consumed) = Parse(Header(0, flags: (byte)flags));
            if (flags <= 3)
            {
                Assert.True(ok, $"flags {flags}");
                Assert.Equal((FrameError.None, (long)FrameHeader.Size), (error, consumed));
            }
            else
            {
                Assert.False(ok, $"flags {flags}");
                Assert.Equal((FrameError.Malformed, 0L), (error, consumed));
            }
        }
    }

    [Fact]
    public void FrameWriter_refuses_a_body_over_the_limit()
    {
        using var output = new PooledBufferWriter(64);
        var e = Assert.Throws<GridException>(() =>
            FrameWriter.Write(output, MessageType.Hello, FrameFlags.None, 1, Hello.ForThisBuild(new string('a', 100)), 50));
        Assert.Equal(GridErrorCode.FrameTooLarge, e.Code);
    }

    [Fact]
    public void FrameWriter_error_frames_carry_the_error_flags()
    {
        using var output = new PooledBufferWriter(64);
        FrameWriter.WriteError(output, MessageType.FetchChunk, 5, GridErrorCode.NotCommitted, "later");
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(output.WrittenMemory));
        Assert.True(FrameCodec.TryRead(ref reader, Max, out var frame, out _));
        Assert.True(frame.Header.IsResponse);
        Assert.True(frame.Header.IsError);
        Assert.Equal((MessageType.FetchChunk, 5UL), (frame.Header.Type, frame.Header.RequestId));
        Assert.Equal(new ErrorReply(GridErrorCode.NotCommitted, "later"), MessageSamples.ReadWhole<ErrorReply>(frame.Body));
    }

    [Fact]
    public void Message_type_numbers_are_those_of_version_4()
    {
        Assert.Equal(
            [(MessageType.Hello, 1), (MessageType.Authenticate, 4), (MessageType.PushData, 20), (MessageType.FetchChunk, 21), (MessageType.ReplicateData, 22)],
            Enum.GetValues<MessageType>().Select(t => (t, (int)t)));
    }
}
