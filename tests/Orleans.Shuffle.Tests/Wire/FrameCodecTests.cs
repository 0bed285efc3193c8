using System.Buffers;
using System.Buffers.Binary;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

public class FrameCodecTests
{
    private const int Max = ProtocolConstants.DefaultMaxFrameBodyBytes;

    /// <summary>FrameWriter -> FrameCodec.TryRead -> T.Read.</summary>
    private static T RoundTrip<T>(MessageType type, T message, FrameFlags flags = FrameFlags.None, ulong requestId = 77) where T : IWireMessage<T>
    {
        using var output = new PooledBufferWriter(32);
        FrameWriter.Write(output, type, flags, requestId, message, Max);
        var bytes = output.WrittenSpan.ToArray();

        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(FrameCodec.TryRead(ref reader, Max, out var frame, out var error));
        Assert.Equal(FrameError.None, error);
        Assert.Equal(bytes.Length, reader.Consumed);
        Assert.Equal(type, frame.Header.Type);
        Assert.Equal(flags, frame.Header.Flags);
        Assert.Equal(requestId, frame.Header.RequestId);
        Assert.Equal(bytes.Length - FrameHeader.Size, frame.Header.BodyLength);
        Assert.Equal(frame.Header.BodyLength, frame.Body.Length);
        return MessageSamples.ReadWhole<T>(frame.Body);
    }

    [Fact]
    public void Hello_and_HelloOk_round_trip()
    {
        var hello = Hello.ForThisBuild("peer-ü");
        Assert.Equal(hello, RoundTrip(MessageType.Hello, hello));
        Assert.Equal(ProtocolConstants.Magic, hello.Magic);
        var ok = new HelloOk(1, "127.0.0.1-9-1", "silo");
        Assert.Equal(ok, RoundTrip(MessageType.Hello, ok, FrameFlags.Response));
    }

    [Fact]
    public void ErrorReply_round_trips_and_long_messages_are_cut_to_1024_chars()
    {
        var error = new ErrorReply(ErrorCode.ChecksumMismatch, "bad crc");
        Assert.Equal(error, RoundTrip(MessageType.PushData, error, FrameFlags.Response | FrameFlags.Error));
        var longOne = RoundTrip(MessageType.PushData, new ErrorReply(ErrorCode.Internal, new string('x', 3000)));
        Assert.Equal(ErrorCode.Internal, longOne.Code);
        Assert.Equal(new string('x', 1024), longOne.Message);
    }

    [Fact]
    public void Control_requests_round_trip()
    {
        Assert.Equal(new AppRequest("app-1"), RoundTrip(MessageType.RegisterApplication, new AppRequest("app-1")));
        Assert.Equal(new ShuffleRequest("a", -1), RoundTrip(MessageType.DestroyShuffle, new ShuffleRequest("a", -1)));
        Assert.Equal(new RegisterShuffle("a", 3, 10, 20), RoundTrip(MessageType.RegisterShuffle, new RegisterShuffle("a", 3, 10, 20)));
        Assert.Equal(new MapperEnd("a", 3, 9, 1), RoundTrip(MessageType.MapperEnd, new MapperEnd("a", 3, 9, 1)));
        Assert.Equal(new MapperEndReply(true, 4, false), RoundTrip(MessageType.MapperEnd, new MapperEndReply(true, 4, false)));
        Assert.Equal(new MapperEndReply(false, 0, true), RoundTrip(MessageType.MapperEnd, new MapperEndReply(false, 0, true)));
        Assert.Equal(new FetchChunk("a", 1, 2, 3, 4, 5, 6), RoundTrip(MessageType.FetchChunk, new FetchChunk("a", 1, 2, 3, 4, 5, 6)));
    }

    [Fact]
    public void ShuffleLocations_round_trip()
    {
        var locations = new ShuffleLocations([MessageSamples.LocationA, MessageSamples.LocationB]);
        var read = RoundTrip(MessageType.RegisterShuffle, locations, FrameFlags.Response);
        Assert.Equal(locations.Locations, read.Locations);
        Assert.Empty(RoundTrip(MessageType.RegisterShuffle, new ShuffleLocations([])).Locations);
    }

    [Fact]
    public void PartitionRefs_round_trip()
    {
        var refs = new PartitionRefs("app", 5, [new PartitionRef(0, 0), new PartitionRef(7, 2), new PartitionRef(999_999, 0)]);
        var read = RoundTrip(MessageType.CommitPartitions, refs);
        Assert.Equal("app", read.AppId);
        Assert.Equal(5, read.ShuffleId);
        Assert.Equal(refs.Partitions, read.Partitions);
    }

    [Fact]
    public void CommittedFile_and_CommitReply_round_trip()
    {
        var file = RoundTrip(MessageType.CommitPartitions, new CommittedFileMessage(MessageSamples.File)).File;
        AssertSameFile(MessageSamples.File, file);
        Assert.Equal(3, file.ChunkCount);
        AssertSameFile(CommittedFile.Empty, RoundTrip(MessageType.CommitPartitions, new CommittedFileMessage(CommittedFile.Empty)).File);

        var reply = new CommitReply([new CommittedPartition(3, 0, MessageSamples.File), new CommittedPartition(4, 1, CommittedFile.Empty)]);
        var read = RoundTrip(MessageType.CommitPartitions, reply, FrameFlags.Response);
        Assert.Equal(2, read.Partitions.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(reply.Partitions[i].PartitionId, read.Partitions[i].PartitionId);
            Assert.Equal(reply.Partitions[i].Epoch, read.Partitions[i].Epoch);
            AssertSameFile(reply.Partitions[i].File, read.Partitions[i].File);
        }
    }

    [Fact]
    public void ReducerFileGroup_round_trips()
    {
        var group = new ReducerFileGroup(3, 2, [0, -1, 5], MessageSamples.CommittedLocations);
        var read = RoundTrip(MessageType.GetReducerFileGroup, group, FrameFlags.Response);
        Assert.Equal(3, read.NumMaps);
        Assert.Equal(2, read.NumPartitions);
        Assert.Equal(group.WinningAttempts, read.WinningAttempts);
        Assert.Equal(2, read.Locations.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(group.Locations[i].Location, read.Locations[i].Location);
            Assert.Equal(group.Locations[i].Copies.Count, read.Locations[i].Copies.Count);
            for (int c = 0; c < group.Locations[i].Copies.Count; c++)
            {
                Assert.Equal(group.Locations[i].Copies[c].Silo, read.Locations[i].Copies[c].Silo);
                AssertSameFile(group.Locations[i].Copies[c].File, read.Locations[i].Copies[c].File);
            }
        }
        Assert.Single(read.LocationsOf(1));
    }

    [Fact]
    public void ClusterView_and_SiloStats_round_trip()
    {
        var view = new ClusterView(42, [MessageSamples.ActiveSilo, MessageSamples.JoiningSilo]);
        var read = RoundTrip(MessageType.GetClusterView, view, FrameFlags.Response);
        Assert.Equal(42, read.Version);
        Assert.Equal(view.Silos, read.Silos);
        Assert.Equal([MessageSamples.ActiveSilo], read.Active);
        Assert.Equal(SiloStatus.Joining, read.Silos[1].Status);

        var stats = RoundTrip(MessageType.GetSiloStats, new SiloStats(MessageSamples.ActiveSilo), FrameFlags.Response);
        Assert.Equal(MessageSamples.ActiveSilo, stats.Silo);
    }

    [Fact]
    public void Empty_body_round_trips_as_a_bare_header()
    {
        using var output = new PooledBufferWriter(8);
        FrameWriter.Write(output, MessageType.Ping, FrameFlags.None, 1, default(Empty), Max);
        Assert.Equal(FrameHeader.Size, output.WrittenCount);
        RoundTrip(MessageType.Ping, default(Empty));
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
            Assert.Equal(sample.Type, frame.Header.Type);
            Assert.Equal((ulong)index + 1, frame.Header.RequestId);
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

    private static byte[] Header(int bodyLength, ushort type = 2, byte flags = 0, byte reserved = 0, ulong requestId = 1)
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
    [InlineData(-1)]
    [InlineData(int.MinValue)]
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
    public void Every_known_flag_combination_is_accepted()
    {
        for (byte flags = 0; flags <= 7; flags++)
        {
            var (ok, error, consumed) = Parse(Header(0, flags: flags));
            Assert.True(ok, $"flags {flags}");
            Assert.Equal(FrameError.None, error);
            Assert.Equal(FrameHeader.Size, consumed);
        }
    }

    [Fact]
    public void FrameWriter_refuses_a_body_over_the_limit()
    {
        using var output = new PooledBufferWriter(64);
        var e = Assert.Throws<GridException>(() =>
            FrameWriter.Write(output, MessageType.RegisterApplication, FrameFlags.None, 1, new AppRequest(new string('a', 100)), 50));
        Assert.Equal(ErrorCode.FrameTooLarge, e.Code);
    }

    [Fact]
    public void FrameWriter_error_frames_carry_the_error_flags()
    {
        using var output = new PooledBufferWriter(64);
        FrameWriter.WriteError(output, MessageType.FetchChunk, 5, ErrorCode.NotCommitted, "later");
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(output.WrittenMemory));
        Assert.True(FrameCodec.TryRead(ref reader, Max, out var frame, out _));
        Assert.True(frame.Header.IsResponse);
        Assert.True(frame.Header.IsError);
        Assert.Equal(new ErrorReply(ErrorCode.NotCommitted, "later"), MessageSamples.ReadWhole<ErrorReply>(frame.Body));
    }

    private static void AssertSameFile(CommittedFile expected, CommittedFile actual)
    {
        Assert.Equal(expected.Bytes, actual.Bytes);
        Assert.Equal(expected.BatchCount, actual.BatchCount);
        Assert.Equal(expected.Crc32C, actual.Crc32C);
        Assert.Equal(expected.ChunkOffsets, actual.ChunkOffsets);
    }
}
