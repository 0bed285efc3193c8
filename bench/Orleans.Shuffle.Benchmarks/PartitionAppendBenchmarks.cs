using System.Buffers;
using BenchmarkDotNet.Attributes;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Grains.Storage;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// A partition copy's append path (PartitionFileWriter, called by the data endpoint): copy a pushed batch into the flush buffer, verify its CRC,
/// hand full buffers to the disk flusher. Budget: no allocation per batch once buffers are pooled.
/// </summary>
[MemoryDiagnoser]
public class PartitionAppendBenchmarks
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "orleans-shuffle-bench", Guid.NewGuid().ToString("N"));
    private DiskFlusher _flusher = null!;
    private MemoryBudget _budget = null!;
    private ReadOnlySequence<byte> _batch;
    private BatchHeader _header;
    private PartitionFileWriter _file = null!;
    private int _files;

    [Params(4 * 1024, 64 * 1024)]
    public int BatchBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(_root);
        _flusher = new DiskFlusher("bench", _ => { });
        _budget = new MemoryBudget(1L << 30);
        var payload = new byte[BatchBytes - BatchHeader.Size];
        new Random(2).NextBytes(payload);
        var batch = new byte[BatchBytes];
        BatchHeader.Write(batch, 0, 0, 0, payload);
        payload.CopyTo(batch.AsSpan(BatchHeader.Size));
        BatchHeader.TryRead(batch, out _header);
        _batch = new ReadOnlySequence<byte>(batch);
    }

    [IterationSetup]
    public void NewFile() =>
        _file = new PartitionFileWriter(Path.Combine(_root, $"{_files++}.data"), _flusher, _budget, 256 * 1024, 8 * 1024 * 1024);

    [IterationCleanup]
    public void DeleteFile() => _file.DeleteAsync().GetAwaiter().GetResult();

    [Benchmark(Description = "Append 256 batches", OperationsPerInvoke = 256)]
    public void Append()
    {
        for (int i = 0; i < 256; i++) _file.Append(_batch, _header);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _flusher.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
