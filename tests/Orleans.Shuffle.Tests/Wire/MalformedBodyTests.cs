using System.Buffers;
using System.Buffers.Binary;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

public class MalformedBodyTests
{
    private static void AssertMalformed(Action read)
    {
        var e = Assert.Throws<GridException>(read);
        Assert.Equal(GridErrorCode.MalformedFrame, e.Code);
    }

    [Theory]
    [MemberData(nameof(MessageSamples.Names), MemberType = typeof(MessageSamples))]
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

    private static byte[] PushHeader(string appId, int shuffleId, int entryCount, int extraBytes = 0)
    {
        using var output = new PooledBufferWriter(64);
        PushData.WriteHeader(new WireWriter(output), appId, shuffleId, entryCount);
        return [.. output.WrittenSpan, .. new byte[extraBytes]];
    }

    private static (string, int, int) ReadPushHeader(byte[] body)
    {
        var reader = new WireReader(new ReadOnlySequence<byte>(body));
        return PushData.ReadHeader(ref reader);
    }

    [Fact]
    public void Every_truncation_of_a_PushData_header_is_malformed()
    {
        var body = PushHeader("app-1", 7, 0);
        Assert.Equal(("app-1", 7, 0), ReadPushHeader(body));
        for (int length = 0; length < body.Length; length++)
        {
            var prefix = body[..length];
            AssertMalformed(() => ReadPushHeader(prefix));
        }
    }

    [Fact]
    public void A_bool_other_than_0_or_1_is_malformed()
    {
        // No version-2 message carries a bool, but the reader keeps the documented rule.
        foreach (byte value in new byte[] { 2, 0x80, 0xFF })
        {
            AssertMalformed(() =>
            {
                var reader = new WireReader(new ReadOnlySequence<byte>([value]));
                reader.ReadBool();
            });
        }
        var ok = new WireReader(new ReadOnlySequence<byte>([0, 1]));
        Assert.Equal((false, true), (ok.ReadBool(), ok.ReadBool()));
    }

    [Fact]
    public void A_string_longer_than_the_limit_is_malformed()
    {
        var body = new byte[2 + 5000];
        BinaryPrimitives.WriteUInt16LittleEndian(body, 5000);
        AssertMalformed(() => MessageSamples.ReadWhole<FetchChunk>(body));
        AssertMalformed(() => ReadPushHeader(body));

        var hello = new byte[4 + 2 + 2 + 4097];
        BinaryPrimitives.WriteUInt32LittleEndian(hello, ProtocolConstants.Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(hello.AsSpan(4), ProtocolConstants.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(hello.AsSpan(6), 4097);
        AssertMalformed(() => MessageSamples.ReadWhole<Hello>(hello));
    }

    [Fact]
    public void A_string_of_exactly_the_limit_is_read()
    {
        var body = Body(new HelloOk(2, new string('i', ProtocolConstants.MaxStringBytes), "s", []));
        Assert.Equal(ProtocolConstants.MaxStringBytes, MessageSamples.ReadWhole<HelloOk>(body).SiloIdentity.Length);
        Assert.Throws<GridException>(() => Body(new HelloOk(2, new string('i', ProtocolConstants.MaxStringBytes + 1), "s", [])));
    }

    [Fact]
    public void A_string_length_past_the_end_is_malformed()
    {
        var body = new byte[2 + 10];
        BinaryPrimitives.WriteUInt16LittleEndian(body, 11);
        AssertMalformed(() => MessageSamples.ReadWhole<FetchChunk>(body));
        AssertMalformed(() => ReadPushHeader(body));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    [InlineData(IdValidator.MaxPartitions + 1)]
    [InlineData(1000)] // more than the body can hold
    public void Impossible_counts_are_malformed(int count)
    {
        var reply = Body(new PushReply([new PartitionRef(1, 0)]));
        BinaryPrimitives.WriteInt32LittleEndian(reply, count);
        AssertMalformed(() => MessageSamples.ReadWhole<PushReply>(reply));

        // Every entry takes at least its 12-byte entry header: 1000 entries do not fit in 120 bytes.
        AssertMalformed(() => ReadPushHeader(PushHeader("a", 1, count, extraBytes: 120)));
    }

    [Fact]
    public void Counts_the_body_can_hold_are_read()
    {
        Assert.Equal(("a", 1, 10), ReadPushHeader(PushHeader("a", 1, 10, extraBytes: 10 * PushData.EntryHeaderBytes)));
        AssertMalformed(() => ReadPushHeader(PushHeader("a", 1, 10, extraBytes: 10 * PushData.EntryHeaderBytes - 1)));

        var reply = new byte[4 + 2 * 8];
        BinaryPrimitives.WriteInt32LittleEndian(reply, 2);
        Assert.Equal(2, MessageSamples.ReadWhole<PushReply>(reply).Splits.Count);
        BinaryPrimitives.WriteInt32LittleEndian(reply, 3);
        AssertMalformed(() => MessageSamples.ReadWhole<PushReply>(reply));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(ProtocolConstants.MaxBatchPayloadBytes + 1)]
    [InlineData(int.MaxValue)]
    public void Batch_headers_with_impossible_lengths_are_refused(int payloadLength)
    {
        var batch = TestBatches.Make(1, 0, 0, [1, 2, 3]);
        BinaryPrimitives.WriteInt32LittleEndian(batch.AsSpan(12), payloadLength);
        Assert.False(BatchHeader.TryRead(batch, out _));
        var e = Assert.Throws<GridException>(() =>
        {
            var batches = new BatchIterator(batch);
            batches.MoveNext(out _, out _);
        });
        Assert.Equal(GridErrorCode.MalformedFrame, e.Code);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(8)]
    public void Batch_headers_with_negative_ids_are_refused(int offset)
    {
        var batch = TestBatches.Make(1, 2, 3, [9]);
        Assert.True(BatchHeader.TryRead(batch, out _));
        BinaryPrimitives.WriteInt32LittleEndian(batch.AsSpan(offset), -1);
        Assert.False(BatchHeader.TryRead(batch, out _));
    }

    [Fact]
    public void Truncated_batches_and_trailing_bytes_in_a_chunk_are_malformed()
    {
        var first = TestBatches.Make(1, 0, 0, TestBatches.FrameRecords(["one"]));
        var chunk = first.Concat(TestBatches.Make(2, 0, 0, TestBatches.FrameRecords(["two"]))).ToArray();
        for (int length = 1; length < chunk.Length; length++)
        {
            if (length == first.Length) continue; // one whole batch
            var prefix = chunk[..length];
            var e = Assert.Throws<GridException>(() =>
            {
                var batches = new BatchIterator(prefix);
                // Bounded: each batch moves the iterator past at least its header.
                while (batches.MoveNext(out _, out _)) { }
            });
            Assert.Equal(GridErrorCode.MalformedFrame, e.Code);
        }
    }

    private static readonly (string Name, Action<ReadOnlySequence<byte>> Read)[] Readers =
    [
        .. MessageSamples.All.Select(c => (c.Name, (Action<ReadOnlySequence<byte>>)(body => c.Read(body)))),
        ("PushData.ReadHeader", body =>
        {
            var reader = new WireReader(body);
            PushData.ReadHeader(ref reader);
        }),
    ];

    /// <summary>A valid merged push body: what the fuzzer edits besides the samples.</summary>
    private static byte[] PushSample()
    {
        using var output = new PooledBufferWriter(64);
        var writer = new WireWriter(output);
        PushData.WriteHeader(writer, "app-1", 2, 1);
        var batch = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["r"]));
        writer.WriteInt32(1);
        writer.WriteInt32(0);
        writer.WriteInt32(batch.Length);
        writer.WriteRaw(batch);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Random bytes, and valid bodies with a few bytes changed, cut or added.</summary>
    private static IEnumerable<byte[]> FuzzInputs(int seed, int iterations)
    {
        var random = new Random(seed);
        var samples = MessageSamples.All.Select(c => c.Body).Append(PushSample()).ToArray();
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
                var sample = samples[random.Next(samples.Length)].ToList();
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
                        Assert.True(e.Code == GridErrorCode.MalformedFrame, $"{name}: {e.Code} {e.Message}");
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
    [InlineData(21)]
    [InlineData(22)]
    public void Fuzzed_chunks_throw_nothing_but_MalformedFrame_or_ChecksumMismatch(int seed)
    {
        var random = new Random(seed);
        var chunk = TestBatches.Make(1, 0, 0, TestBatches.FrameRecords(["one"])).Concat(TestBatches.Make(2, 0, 0, [])).ToArray();
        int whole = 0, refused = 0;
        for (int i = 0; i < 2000; i++)
        {
            var input = chunk.ToList();
            for (int e = random.Next(1, 3); e > 0 && input.Count > 0; e--)
            {
                if (random.Next(3) == 0) input.RemoveAt(random.Next(input.Count));
                else input[random.Next(input.Count)] ^= (byte)(1 << random.Next(8));
            }
            var bytes = input.ToArray();
            if (bytes.AsSpan().SequenceEqual(chunk)) continue; // two flips of the same bit undo each other
            try
            {
                var batches = new BatchIterator(bytes);
                // Bounded: each batch moves the iterator past at least its header.
                while (batches.MoveNext(out _, out _)) { }
                whole++;
            }
            catch (GridException e)
            {
                Assert.True(e.Code is GridErrorCode.MalformedFrame or GridErrorCode.ChecksumMismatch, $"{e.Code} {e.Message}");
                refused++;
            }
        }
        // Every edit breaks a checksum, a length or an id.
        Assert.Equal(0, whole);
        Assert.InRange(refused, 1900, 2000);
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
                input[6] = (byte)random.Next(0, 5);
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
                Assert.Equal(0, (int)frame.Header.Flags & ~3);
                before = reader.Consumed;
                frames++;
            }
            Assert.Equal(before, reader.Consumed); // a refusal or a wait consumes nothing
            if (error != FrameError.None) errors++;
        }
        Assert.True(frames > 0 && errors > 0, $"frames {frames}, errors {errors}");
    }
}
