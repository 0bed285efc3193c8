using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Client.Compression;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>
/// Batches compressed by the writer, one codec per batch: what is pushed, what a reader gets back,
/// and what happens to a batch that does not shrink or does not decode.
/// </summary>
public class BatchCompressionTests
{
    private static readonly SiloEndpoint Silo = new("silo-a@1", "silo-a", "a", 1);

    private static ShuffleWriter Writer(FakePushTransport transport, BatchCodec codec, int partitions = 2)
    {
        var options = new GridClientOptions { Compression = codec, PushBufferBytes = 4096, MergedPushBytes = 8192 };
        options.Validate();
        var locations = Enumerable.Range(0, partitions).Select(p => new PartitionLocation(p, 0, Silo, null)).ToArray();
        return new ShuffleWriter(transport, options, "app", 7, mapId: 3, attemptId: 1, locations);
    }

    /// <summary>Text with long runs, as <see cref="ShuffleData.Record"/> makes: compresses several times over.</summary>
    private static byte[] Compressible(int i) => Encoding.UTF8.GetBytes(ShuffleData.Record(1, i % 96 + 1));

    private static async Task<List<PushedEntry>> WriteAsync(BatchCodec codec, Func<int, byte[]> record, int count, Action<ShuffleWriter>? check = null)
    {
        var transport = new FakePushTransport();
        await using (var writer = Writer(transport, codec))
        {
            for (int i = 0; i < count; i++) await writer.WriteAsync(i % 2, record(i));
            await writer.CloseAsync();
            check?.Invoke(writer);
        }
        return [.. transport.StoredEntries.OrderBy(e => (e.PartitionId, e.BatchId))];
    }

    /// <summary>The framed records of each partition, in the order written: u32 length, then the bytes.</summary>
    private static byte[][] Framed(Func<int, byte[]> record, int count) =>
        Enumerable.Range(0, 2).Select(p => Enumerable.Range(0, count).Where(i => i % 2 == p)
            .SelectMany(i => BitConverter.GetBytes((uint)record(i).Length).Concat(record(i))).ToArray()).ToArray();

    private static void AssertPayloadsAre(byte[][] expected, List<PushedEntry> entries)
    {
        for (int p = 0; p < expected.Length; p++)
        {
            Assert.Equal(expected[p], entries.Where(e => e.PartitionId == p).SelectMany(e => e.Payload).ToArray());
        }
    }

    [Theory]
    [InlineData(BatchCodec.Lz4)]
    [InlineData(BatchCodec.Zstd)]
    public async Task Compressible_batches_are_pushed_smaller_and_decode_to_exactly_the_framed_records(BatchCodec codec)
    {
        const int Count = 400;
        long raw = 0, stored = 0;
        var entries = await WriteAsync(codec, Compressible, Count, w => (raw, stored) = (w.PayloadBytes, w.StoredPayloadBytes));

        Assert.All(entries, e => Assert.Equal(codec, e.Codec));
        AssertPayloadsAre(Framed(Compressible, Count), entries);
        Assert.Equal(entries.Sum(e => (long)e.Payload.Length), raw);
        Assert.True(stored * 3 < raw, $"{codec}: {raw} bytes of records stored as {stored}");
    }

    /// <summary>
    /// Batches that compress many times over are still merged into pushes of up to MergedPushBytes,
    /// but none of them pins a whole push buffer while it waits: an entry of at most PushBufferBytes / 8
    /// travels in an array of about its own size (the full buffers would outnumber what the writer's
    /// recycler keeps, and the rest would be allocated anew).
    /// </summary>
    [Fact]
    public async Task Well_compressed_batches_are_merged_and_pin_no_full_buffer_each()
    {
        var transport = new FakePushTransport();
        var arrayLengths = new ConcurrentBag<(int Entry, int Array)>();
        transport.OnBody = body =>
        {
            foreach (var segment in body.Entries)
            {
                Assert.True(MemoryMarshal.TryGetArray(segment, out var array));
                arrayLengths.Add((segment.Length, array.Array!.Length));
            }
        };
        var record = new byte[100];
        await using (var writer = Writer(transport, BatchCodec.Lz4, partitions: 1))
        {
            for (int i = 0; i < 2000; i++) await writer.WriteAsync(0, record);
            await writer.CloseAsync();
        }
        var pushes = transport.Pushes.ToArray();
        Assert.Equal(2000 * 104L, pushes.Sum(p => p.Entries.Sum(e => (long)e.Payload.Length)));
        // 4 KiB batches of zeros compress to well under 512 bytes: an 8 KiB push merges many of them.
        Assert.Contains(pushes, p => p.Entries.Count > 8);
        Assert.NotEmpty(arrayLengths);
        Assert.All(arrayLengths, a => Assert.True(a.Array < 4096, $"an entry of {a.Entry} bytes sits in an array of {a.Array}"));
    }

    [Fact]
    public async Task A_batch_that_would_not_shrink_is_pushed_uncompressed()
    {
        const int Count = 200;
        byte[] Random(int i) => TestBatches.Payload(100, seed: i);
        long raw = 0, stored = 0;
        var entries = await WriteAsync(BatchCodec.Lz4, Random, Count, w => (raw, stored) = (w.PayloadBytes, w.StoredPayloadBytes));

        Assert.NotEmpty(entries);
        Assert.All(entries, e => Assert.Equal(BatchCodec.None, e.Codec));
        AssertPayloadsAre(Framed(Random, Count), entries);
        Assert.Equal(raw, stored);
    }

    [Fact]
    public async Task Without_compression_the_framed_records_are_pushed_as_they_are()
    {
        var entries = await WriteAsync(BatchCodec.None, Compressible, 50);
        Assert.All(entries, e => Assert.Equal(BatchCodec.None, e.Codec));
        AssertPayloadsAre(Framed(Compressible, 50), entries);
    }

    [Theory]
    [InlineData(BatchCodec.Lz4)]
    [InlineData(BatchCodec.Zstd)]
    public void A_payload_that_passed_its_checksum_but_does_not_decode_fails_with_a_clear_error(BatchCodec codec)
    {
        var raw = TestBatches.FrameRecords(Enumerable.Range(0, 50).Select(i => ShuffleData.Record(2, i + 1)));
        using var compressor = BatchCompressor.Create(codec, zstdLevel: 1)!;
        var packed = new byte[raw.Length];
        Assert.True(compressor.TryCompress(raw, packed, out int written));
        using var decompressor = new BatchDecompressor();

        // Intact, it decodes to the records; the decoder's buffer is reused for the next batch.
        var header = new BatchHeader(1, 0, 0, written, codec, raw.Length, 0);
        Assert.Equal(raw, decompressor.Decode(header, packed.AsMemory(0, written)).ToArray());

        // A header that promises more bytes than the payload holds, and a payload cut short: both refused by name.
        foreach (var (lying, payload) in new[] { (header with { RawLength = raw.Length + 1 }, packed.AsMemory(0, written)), (header with { PayloadLength = written / 2 }, packed.AsMemory(0, written / 2)) })
        {
            var e = Assert.Throws<GridException>(() => decompressor.Decode(lying, payload));
            Assert.Equal(GridErrorCode.MalformedFrame, e.Code);
            Assert.Contains($"{codec} payload", e.Message);
            Assert.Contains("map 1, attempt 0, batch 0", e.Message);
        }
    }

    [Fact]
    public void An_uncompressed_payload_is_returned_without_a_copy()
    {
        var payload = TestBatches.FrameRecords(["x", "y"]).AsMemory();
        using var decompressor = new BatchDecompressor();
        var decoded = decompressor.Decode(new BatchHeader(0, 0, 0, payload.Length, BatchCodec.None, payload.Length, 0), payload);
        Assert.True(decoded.Equals(payload));
    }
}
