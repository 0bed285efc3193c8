using System.Buffers;
using System.Buffers.Binary;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

public class MalformedBodyTests
{
    private static void AssertMalformed(Action read)
    {
        var e = Assert.Throws<GridException>(read);
        Assert.Equal(ErrorCode.MalformedFrame, e.Code);
    }

    [Theory]
    [MemberData(nameof(MessageSamples.NonEmptyNames), MemberType = typeof(MessageSamples))]
    public void Every_truncation_of_a_body_is_malformed(string name)
    {
        var sample = MessageSamples.Get(name);
        for (int length = 0; length < sample.Body.Length; length++)
        {
            var prefix = sample.Body.AsSpan(0, length).ToArray();
            AssertMalformed(() => sample.Read(new ReadOnlySequence<byte>(prefix)));
            AssertMalformed(() => sample.Read(Sequences.Split(prefix, length / 3, 2 * length / 3)));
        }
    }

    [Theory]
    [MemberData(nameof(MessageSamples.Names), MemberType = typeof(MessageSamples))]
    public void Trailing_bytes_are_malformed(string name)
    {
        var sample = MessageSamples.Get(name);
        var longer = sample.Body.Append((byte)0).ToArray();
        AssertMalformed(() => sample.Read(new ReadOnlySequence<byte>(longer)));
    }

    private static byte[] Body<T>(T message) where T : IWireMessage<T> => MessageSamples.BodyOf(message);

    [Fact]
    public void A_bool_other_than_0_or_1_is_malformed()
    {
        var body = Body(new MapperEndReply(true, 1, false));
        body[0] = 2;
        AssertMalformed(() => MessageSamples.ReadWhole<MapperEndReply>(body));
    }

    [Fact]
    public void A_string_longer_than_the_limit_is_malformed()
    {
        var body = new byte[2 + 5000];
        BinaryPrimitives.WriteUInt16LittleEndian(body, 5000);
        AssertMalformed(() => MessageSamples.ReadWhole<AppRequest>(body));
    }

    [Fact]
    public void A_string_length_past_the_end_is_malformed()
    {
        var body = new byte[2 + 10];
        BinaryPrimitives.WriteUInt16LittleEndian(body, 11);
        AssertMalformed(() => MessageSamples.ReadWhole<AppRequest>(body));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    [InlineData(1000)]
    public void Impossible_counts_are_malformed(int count)
    {
        var locations = Body(new ShuffleLocations([MessageSamples.LocationA]));
        BinaryPrimitives.WriteInt32LittleEndian(locations, count);
        AssertMalformed(() => MessageSamples.ReadWhole<ShuffleLocations>(locations));

        var view = Body(new ClusterView(1, [MessageSamples.ActiveSilo]));
        BinaryPrimitives.WriteInt32LittleEndian(view.AsSpan(8), count);
        AssertMalformed(() => MessageSamples.ReadWhole<ClusterView>(view));

        var refs = Body(new PartitionRefs("a", 1, [new PartitionRef(1, 0)]));
        BinaryPrimitives.WriteInt32LittleEndian(refs.AsSpan(2 + 1 + 4), count);
        AssertMalformed(() => MessageSamples.ReadWhole<PartitionRefs>(refs));

        var commit = Body(new CommitReply([new CommittedPartition(0, 0, MessageSamples.File)]));
        BinaryPrimitives.WriteInt32LittleEndian(commit, count);
        AssertMalformed(() => MessageSamples.ReadWhole<CommitReply>(commit));
    }

    private static byte[] FileBody(long bytes, int batches, params long[] offsets)
    {
        using var output = new PooledBufferWriter(64);
        var writer = new WireWriter(output);
        writer.WriteInt64(bytes);
        writer.WriteInt32(batches);
        writer.WriteUInt32(1);
        writer.WriteInt32(offsets.Length);
        foreach (long offset in offsets) writer.WriteInt64(offset);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void Committed_files_with_impossible_offsets_are_malformed()
    {
        // Sanity: the helper writes a readable file.
        Assert.Equal(100, MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(100, 1, 0, 100)).File.Bytes);

        AssertMalformed(() => MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(100, 1)));            // no offsets at all
        AssertMalformed(() => MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(100, 1, 0, 60, 50, 100))); // decreasing
        AssertMalformed(() => MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(100, 1, 10, 100)));     // does not start at 0
        AssertMalformed(() => MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(100, 1, 0, 90)));       // does not end at the size
        AssertMalformed(() => MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(100, 1, 0, 200)));      // past the size
        AssertMalformed(() => MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(-1, 1, 0)));           // negative size
        AssertMalformed(() => MessageSamples.ReadWhole<CommittedFileMessage>(FileBody(100, -1, 0, 100)));     // negative batches
    }

    [Theory]
    [InlineData(-1, 0, 1)]
    [InlineData(0, -1, 1)]
    [InlineData(0, 0, -1)]
    [InlineData(0, 0, 65536)]
    public void Partition_locations_out_of_range_are_malformed(int partition, int epoch, int port)
    {
        var body = Body(new ShuffleLocations([new PartitionLocation(partition, epoch, new SiloEndpoint("id", "h", port))]));
        AssertMalformed(() => MessageSamples.ReadWhole<ShuffleLocations>(body));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(-5, 1)]
    [InlineData(1_000_001, 1)]
    [InlineData(1, 1_000_001)]
    [InlineData(1000, 1)] // more maps than the body can hold
    public void File_groups_of_impossible_shape_are_malformed(int maps, int partitions)
    {
        using var output = new PooledBufferWriter(64);
        var writer = new WireWriter(output);
        writer.WriteInt32(maps);
        writer.WriteInt32(partitions);
        writer.WriteInt32(0);
        writer.WriteInt32(0);
        var body = output.WrittenSpan.ToArray();
        AssertMalformed(() => MessageSamples.ReadWhole<ReducerFileGroup>(body));
    }

    private static readonly (string Name, Action<ReadOnlySequence<byte>> Read)[] Readers =
    [
        .. MessageSamples.All.Select(c => (c.Name, (Action<ReadOnlySequence<byte>>)(body => c.Read(body)))),
        ("PushData.ReadHeader", body =>
        {
            var reader = new WireReader(body);
            PushData.ReadHeader(ref reader);
        }),
        ("RawBody", body => MessageSamples.ReadWhole<RawBody>(body)),
    ];

    /// <summary>Random bytes, and valid bodies with a few bytes changed, cut or added.</summary>
    private static IEnumerable<byte[]> FuzzInputs(int seed, int iterations)
    {
        var random = new Random(seed);
        for (int i = 0; i < iterations; i++)
        {
            if (i % 2 == 0)
            {
                var bytes = new byte[random.Next(0, 96)];
                random.NextBytes(bytes);
                // Small counts and lengths reach deeper than uniformly random ones.
                if (bytes.Length > 4 && random.Next(3) == 0) bytes[random.Next(bytes.Length)] = (byte)random.Next(4);
                yield return bytes;
            }
            else
            {
                var sample = MessageSamples.All[random.Next(MessageSamples.All.Count)].Body.ToList();
                int edits = random.Next(1, 4);
                for (int e = 0; e < edits && sample.Count > 0; e++)
                {
                    switch (random.Next(4))
                    {
                        case 0: sample[random.Next(sample.Count)] ^= (byte)(1 << random.Next(8)); break;
                        case 1: sample[random.Next(sample.Count)] = (byte)random.Next(256); break;
                        case 2: sample.RemoveRange(random.Next(sample.Count), 1); break;
                        default: sample.Insert(random.Next(sample.Count + 1), (byte)random.Next(256)); break;
                    }
                }
                yield return [.. sample];
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Fuzzed_bodies_throw_nothing_but_GridException_MalformedFrame(int seed)
    {
        int parsed = 0, refused = 0;
        foreach (var input in FuzzInputs(seed, 2000))
        {
            var sequences = new[] { new ReadOnlySequence<byte>(input), Sequences.Split(input, input.Length / 2) };
            foreach (var (name, read) in Readers)
            {
                foreach (var body in sequences)
                {
                    try
                    {
                        read(body);
                        parsed++;
                    }
                    catch (GridException e)
                    {
                        Assert.True(e.Code == ErrorCode.MalformedFrame, $"{name}: {e.Code} {e.Message}");
                        refused++;
                    }
                    catch (Exception e)
                    {
                        Assert.Fail($"{name} threw {e.GetType().Name} for input {Convert.ToHexString(input)}: {e.Message}");
                    }
                }
            }
        }
        // Both outcomes occur, so the fuzz reaches past the first field.
        Assert.True(parsed > 0 && refused > 0, $"parsed {parsed}, refused {refused}");
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void Fuzzed_frame_streams_never_throw(int seed)
    {
        var random = new Random(seed);
        int frames = 0, errors = 0;
        for (int i = 0; i < 2000; i++)
        {
            var input = new byte[random.Next(0, 128)];
            random.NextBytes(input);
            if (input.Length >= 8 && random.Next(2) == 0)
            {
                // Plausible headers: small lengths, zero reserved byte, few flags.
                BinaryPrimitives.WriteInt32LittleEndian(input, random.Next(0, 64));
                input[6] = (byte)random.Next(0, 9);
                input[7] = (byte)(random.Next(8) == 0 ? 1 : 0);
            }
            var sequence = random.Next(2) == 0 ? new ReadOnlySequence<byte>(input) : Sequences.Split(input, random.Next(1, Math.Max(2, input.Length)));
            var reader = new SequenceReader<byte>(sequence);
            FrameError error;
            long before = reader.Consumed;
            // Bounded: each parsed frame consumes at least its 16-byte header.
            while (FrameCodec.TryRead(ref reader, 1024, out var frame, out error))
            {
                Assert.Equal(FrameHeader.Size + frame.Header.BodyLength, reader.Consumed - before);
                Assert.InRange(frame.Header.BodyLength, 0, 1024);
                before = reader.Consumed;
                frames++;
            }
            Assert.Equal(before, reader.Consumed); // a refusal or a wait consumes nothing
            if (error != FrameError.None) errors++;
        }
        Assert.True(frames > 0 && errors > 0, $"frames {frames}, errors {errors}");
    }
}
