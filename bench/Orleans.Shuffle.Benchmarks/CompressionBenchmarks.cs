using BenchmarkDotNet.Attributes;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client.Compression;
using Orleans.Shuffle.Job;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// The writer's and reader's codec cost per 64 KiB batch of the main job's 100-byte records, framed
/// as the writer frames them: random values (the job's default, which no codec shrinks) and text
/// values (--values text). The ratio of each case is printed at setup ("// ratio"). Budget: no
/// allocation per batch, compressing or decoding.
/// </summary>
[MemoryDiagnoser]
public class CompressionBenchmarks
{
    private const int BatchBytes = 64 * 1024;

    private byte[] _raw = [];
    private byte[] _packed = [];
    private int _packedLength;
    private BatchCompressor _compressor = null!;
    private BatchDecompressor _decompressor = null!;
    private BatchHeader _header;

    [Params(BatchCodec.Lz4, BatchCodec.Zstd)]
    public BatchCodec Codec { get; set; }

    [Params(RecordValues.Random, RecordValues.Text)]
    public RecordValues Values { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var generator = new RecordGenerator(seed: 42, mapId: 0, recordSize: 100, Values);
        _raw = new byte[BatchBytes];
        var record = new byte[100];
        int offset = 0;
        // Bounded: each round frames one 104-byte record into the fixed-size batch.
        while (offset + 104 <= _raw.Length)
        {
            generator.NextRecord(record);
            BitConverter.TryWriteBytes(_raw.AsSpan(offset), (uint)record.Length);
            record.CopyTo(_raw, offset + 4);
            offset += 104;
        }
        _raw = _raw[..offset];
        _compressor = BatchCompressor.Create(Codec, zstdLevel: 1)!;
        _decompressor = new BatchDecompressor();
        // The writer's destination: 1/16 short of the input, so output that would not save that much is refused.
        _packed = new byte[_raw.Length];
        bool shrank = _compressor.TryCompress(_raw, _packed.AsSpan(0, WorthIt), out _packedLength);
        if (!shrank) _packedLength = _raw.Length;
        _header = new BatchHeader(0, 0, 0, _packedLength, shrank ? Codec : BatchCodec.None, _raw.Length, 0);
        Console.WriteLine($"// ratio {Codec} {Values}: {_raw.Length} -> {_packedLength} bytes = {(double)_raw.Length / _packedLength:0.00}" +
            (shrank ? "" : " (does not shrink: the writer sends it uncompressed)"));
    }

    [Benchmark(Description = "Compress a 64 KiB batch")]
    public bool Compress() => _compressor.TryCompress(_raw, _packed.AsSpan(0, WorthIt), out _);

    private int WorthIt => _raw.Length - Math.Max(1, _raw.Length / 16);

    [Benchmark(Description = "Decode a 64 KiB batch")]
    public int Decode() => _decompressor.Decode(_header, _packed.AsMemory(0, _packedLength)).Length;

    [GlobalCleanup]
    public void Cleanup()
    {
        _compressor.Dispose();
        _decompressor.Dispose();
    }
}
