using BenchmarkDotNet.Attributes;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// <see cref="ShuffleWriter.TryWrite"/> of 100-byte records with a transport that acknowledges every push at
/// once: the writer's own cost per record (copy, and at every 629th record of a partition seal, merge and
/// start a push), without a network. Per record; multiply by 629 for a 64 KiB batch. Budget: 0 B.
/// </summary>
[MemoryDiagnoser]
public class PushPathClientBenchmarks
{
    private const int RecordBytes = 100;
    private const int BatchesPerInvoke = 16;

    private ShuffleWriter _writer = null!;
    private readonly byte[] _record = new byte[RecordBytes];

    [Params(1, 200)]
    public int Partitions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        new Random(6).NextBytes(_record);
        var options = new GridClientOptions();
        int recordsPerBatch = (options.PushBufferBytes - ShuffleWriter.EntryPrefixBytes) / (RecordBytes + 4);
        if (recordsPerBatch != RecordsPerBatch) throw new InvalidOperationException($"A batch holds {recordsPerBatch} records, not {RecordsPerBatch}.");
        var silo = new SiloEndpoint("instant", "instant", "127.0.0.1", 1);
        var locations = Enumerable.Range(0, Partitions).Select(p => new PartitionLocation(p, 0, silo)).ToList();
        _writer = new ShuffleWriter(new InstantTransport(), options, "bench-app", 0, 0, 0, locations);
    }

    /// <summary>Round robin over the partitions; BatchesPerInvoke batches are sealed per invocation in steady state.</summary>
    [Benchmark(Description = "ShuffleWriter.TryWrite 100 B record, instant transport", OperationsPerInvoke = RecordsPerInvoke)]
    public void TryWrite()
    {
        var record = _record.AsSpan();
        int partitions = Partitions;
        for (int i = 0; i < RecordsPerInvoke; i++)
        {
            int partition = i % partitions;
            if (_writer.TryWrite(partition, record)) continue;
            _writer.FlushPendingAsync().GetAwaiter().GetResult();
            if (!_writer.TryWrite(partition, record)) throw new InvalidOperationException("The writer refused a record after a flush.");
        }
        _writer.WaitForPushesAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>100-byte records (104 framed) that fill a default 64 KiB buffer less its 32 header bytes.</summary>
    private const int RecordsPerBatch = 629;

    private const int RecordsPerInvoke = RecordsPerBatch * BatchesPerInvoke;

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _writer.DisposeAsync();
    }

    /// <summary>Acknowledges every push at once, without a split; revives and MapperEnd are not on this path.</summary>
    private sealed class InstantTransport : IPushTransport
    {
        public ValueTask<PushReply> PushAsync(string host, int port, PushDataBody body, CancellationToken cancellationToken) => ValueTask.FromResult(PushReply.None);

        public Task<IReadOnlyList<PartitionLocation>> ReviveAsync(string appId, int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<MapperEndReply> MapperEndAsync(string appId, int shuffleId, int mapId, int attemptId, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public void OnPushFailed(string appId, int shuffleId)
        {
        }
    }
}
