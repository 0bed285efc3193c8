using System.Buffers;
using BenchmarkDotNet.Attributes;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// The silo's receive path for one 64 KiB merged push: frame parse, push header, entry walk.
/// Budget: 0 bytes allocated by TryRead; the app id string is the one allocation of ReadHeader.
/// </summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private ReadOnlySequence<byte> _frames;

    [GlobalSetup]
    public void Setup()
    {
        var payload = new byte[64 * 1024 - BatchHeader.Size];
        new Random(1).NextBytes(payload);
        var batch = new byte[BatchHeader.Size + payload.Length];
        BatchHeader.Write(batch, 1, 0, 7, payload);
        payload.CopyTo(batch.AsSpan(BatchHeader.Size));
        using var output = new PooledBufferWriter();
        for (int i = 0; i < 16; i++)
        {
            FrameWriter.Write(output, MessageType.PushData, FrameFlags.None, (ulong)i + 1, new OnePush(batch), int.MaxValue);
        }
        _frames = new ReadOnlySequence<byte>(output.WrittenSpan.ToArray());
    }

    [Benchmark(Description = "TryRead 16 push frames")]
    public int ParseFrames()
    {
        var reader = new SequenceReader<byte>(_frames);
        int count = 0;
        while (FrameCodec.TryRead(ref reader, ProtocolConstants.DefaultMaxFrameBodyBytes, out _, out _)) count++;
        return count;
    }

    [Benchmark(Description = "TryRead + walk entries + verify CRC, 16 pushes")]
    public long ParseAndVerify()
    {
        var reader = new SequenceReader<byte>(_frames);
        long bytes = 0;
        while (FrameCodec.TryRead(ref reader, ProtocolConstants.DefaultMaxFrameBodyBytes, out var frame, out _))
        {
            var body = new WireReader(frame.Body);
            var (_, _, entries) = PushData.ReadHeader(ref body);
            for (int i = 0; i < entries; i++)
            {
                body.ReadInt32();
                body.ReadInt32();
                var batch = body.ReadRaw(body.ReadInt32());
                var span = batch.FirstSpan;
                BatchHeader.TryRead(span, out var header);
                if (header.Verify(span, span[BatchHeader.Size..])) bytes += header.PayloadLength;
            }
        }
        return bytes;
    }

    private readonly struct OnePush(byte[] batch) : IWireMessage<OnePush>
    {
        public void Write(WireWriter writer)
        {
            PushData.WriteHeader(writer, "bench-app", 0, 1);
            writer.WriteInt32(3);
            writer.WriteInt32(0);
            writer.WriteInt32(batch.Length);
            writer.WriteRaw(batch);
        }

        public static OnePush Read(ref WireReader reader) => throw new NotSupportedException();
    }
}
