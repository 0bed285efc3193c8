using System.Buffers;
using BenchmarkDotNet.Attributes;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// The whole push path over a real loopback TCP connection, one push at a time (each awaited):
/// client (<see cref="ShuffleWriter"/> / <see cref="GridClientTransport"/> / <see cref="GridConnection"/>),
/// Kestrel, <see cref="Silo.DataPlane.DataConnectionHandler"/>, <see cref="Silo.DataPlane.DataRequestRouter"/>,
/// <see cref="Grains.Partition.HostedPartition"/>, <see cref="Grains.Storage.PartitionFileWriter"/> and the
/// reply back. Figures are per push (one 64 KiB batch, or one merged push of 4 x 16 KiB) or per sealed
/// 64 KiB batch for the writer. The allocation column counts every thread of the process (silo threads
/// too); the silo-only and client-only variants split it. Budget: 0 B per push.
/// </summary>
[MemoryDiagnoser]
public class PushPathBenchmarks
{
    private const int Pushes = 256;
    private const int RecordBytes = 100;
    private const int WriterPartition = 0;
    private const int FirstMergedPartition = 1;
    private const int MergedBatches = 4;
    private const int SinglePartition = 5;
    private const int Partitions = 6;

    private DataPlaneHost _host = null!;
    private FakeSilo _fake = null!;
    private GridConnection _toSilo = null!;
    private GridConnection _toFake = null!;
    private InMemoryConnection _inMemory = null!;
    private ConnectionPool _siloPool = null!;
    private ConnectionPool _fakePool = null!;
    private GridClientTransport _siloTransport = null!;
    private ShuffleWriter _writerToSilo = null!;
    private ShuffleWriter _writerToFake = null!;
    private MergedPush _merged = null!;
    private PushDataHeader _singleHead;
    private ReadOnlySequence<byte> _singleEntry;
    private byte[] _singleFrame = [];
    private readonly byte[] _record = new byte[RecordBytes];
    private int _recordsPerInvoke;

    [GlobalSetup]
    public async Task Setup()
    {
        _host = await DataPlaneHost.StartAsync();
        for (int p = 0; p < Partitions; p++) _host.Reserve(p);
        new Random(5).NextBytes(_record);

        // One 64 KiB PushData entry (entry header, batch header, payload) for partition SinglePartition.
        var entry = Entry(SinglePartition, 64 * 1024, batchId: 0);
        _singleEntry = new ReadOnlySequence<byte>(entry);
        _singleHead = new PushDataHeader(DataPlaneHost.AppId, DataPlaneHost.ShuffleId, 1);
        using (var frame = new PooledBufferWriter(80 * 1024))
        {
            FrameWriter.Write(frame, MessageType.PushData, FrameFlags.None, 1, new PushDataBody(_singleHead.AppId, _singleHead.ShuffleId, 1, _singleEntry), int.MaxValue);
            _singleFrame = frame.WrittenSpan.ToArray();
        }

        // A merged push: 4 batches of 16 KiB for 4 partitions, each in its own array, as a writer seals them.
        _merged = new MergedPush(new BufferRecycler(16 * 1024, MergedBatches));
        for (int i = 0; i < MergedBatches; i++)
        {
            var batch = Entry(FirstMergedPartition + i, 16 * 1024, batchId: 0);
            _merged.Add(new SealedBatch(batch, batch.Length));
        }

        _fake = new FakeSilo([new byte[16]]);
        var connection = new GridConnectionOptions { PeerName = "bench-client" };
        _toSilo = await GridConnection.ConnectAsync(_host.Silo.Host, _host.Silo.Port, connection);
        _toFake = await GridConnection.ConnectAsync("127.0.0.1", _fake.Port, connection);
        _inMemory = _host.OpenInMemory();
        await HelloInMemoryAsync();

        // The client's real transport; it touches GridClient and the grain calls only for revives and MapperEnd.
        _siloPool = new ConnectionPool(connection);
        _fakePool = new ConnectionPool(connection);
        _siloTransport = new GridClientTransport(null!, _siloPool, null!);
        var fakeTransport = new GridClientTransport(null!, _fakePool, null!);
        var options = new GridClientOptions();
        _recordsPerInvoke = Pushes * ((options.PushBufferBytes - ShuffleWriter.EntryPrefixBytes) / (RecordBytes + 4));
        var fakeSilo = new SiloEndpoint("fake", "fake", "127.0.0.1", _fake.Port);
        _writerToSilo = new ShuffleWriter(_siloTransport, options, DataPlaneHost.AppId, DataPlaneHost.ShuffleId, 0, 0, [new PartitionLocation(WriterPartition, 0, _host.Silo)]);
        _writerToFake = new ShuffleWriter(fakeTransport, options, DataPlaneHost.AppId, DataPlaneHost.ShuffleId, 0, 0, [new PartitionLocation(WriterPartition, 0, fakeSilo)]);

        // Every path once, so a broken setup fails here and not as a fast benchmark.
        await GridConnectionToSilo();
        await MergedPushToSilo();
        await InMemorySilo();
        await ShuffleWriterToSilo();
        if (_host.Catalog.Find(DataPlaneHost.Key(WriterPartition))!.File.Batches == 0)
            throw new InvalidOperationException("The writer's batches did not reach the silo.");
    }

    private static byte[] Entry(int partitionId, int entryBytes, int batchId)
    {
        var entry = new byte[entryBytes];
        int batchLength = entryBytes - PushData.EntryHeaderBytes;
        var payload = entry.AsSpan(PushData.EntryHeaderBytes + BatchHeader.Size);
        new Random(partitionId).NextBytes(payload);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(entry, partitionId);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(4), 0);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(8), batchLength);
        BatchHeader.Write(entry.AsSpan(PushData.EntryHeaderBytes, BatchHeader.Size), 1, 0, batchId, payload);
        return entry;
    }

    private async Task HelloInMemoryAsync()
    {
        using var frame = new PooledBufferWriter();
        FrameWriter.Write(frame, MessageType.Hello, FrameFlags.None, 1, Hello.ForThisBuild("bench-client"), int.MaxValue);
        await _inMemory.ToSilo.WriteAsync(frame.WrittenMemory);
        await FrameDrain.DrainFrameAsync(_inMemory.FromSilo);
    }

    /// <summary>New, empty partition files each iteration, so pushed data does not pile up on disk.</summary>
    [IterationSetup]
    public void NewFiles()
    {
        for (int p = 0; p < Partitions; p++) _host.Recreate(p);
    }

    [Benchmark(Description = "Loopback: GridConnection.SendAsync 64 KiB push + reply -> real silo", OperationsPerInvoke = Pushes)]
    public async Task GridConnectionToSilo()
    {
        for (int i = 0; i < Pushes; i++)
        {
            using var reply = await _toSilo.SendAsync(MessageType.PushData, _singleHead, _singleEntry);
        }
    }

    [Benchmark(Description = "Loopback: GridClientTransport.PushAsync MergedPush 4x16 KiB -> real silo", OperationsPerInvoke = Pushes)]
    public async Task MergedPushToSilo()
    {
        for (int i = 0; i < Pushes; i++)
        {
            await _siloTransport.PushAsync(_host.Silo.Host, _host.Silo.Port, _merged.ToBody(DataPlaneHost.AppId, DataPlaneHost.ShuffleId), CancellationToken.None);
        }
    }

    [Benchmark(Description = "Loopback: ShuffleWriter 100 B records, per 64 KiB batch sealed+pushed+acked -> real silo", OperationsPerInvoke = Pushes)]
    public Task ShuffleWriterToSilo() => WriteBatchesAsync(_writerToSilo);

    [Benchmark(Description = "Silo only: DataConnectionHandler over in-memory pipes, 64 KiB push + reply", OperationsPerInvoke = Pushes)]
    public async Task InMemorySilo()
    {
        for (int i = 0; i < Pushes; i++)
        {
            await _inMemory.ToSilo.WriteAsync(_singleFrame);
            await FrameDrain.DrainFrameAsync(_inMemory.FromSilo);
        }
    }

    [Benchmark(Description = "Client only: GridConnection.SendAsync 64 KiB push + reply -> fake silo", OperationsPerInvoke = Pushes)]
    public async Task GridConnectionToFake()
    {
        for (int i = 0; i < Pushes; i++)
        {
            using var reply = await _toFake.SendAsync(MessageType.PushData, _singleHead, _singleEntry);
        }
    }

    [Benchmark(Description = "Client only: ShuffleWriter 100 B records, per 64 KiB batch -> fake silo", OperationsPerInvoke = Pushes)]
    public Task ShuffleWriterToFake() => WriteBatchesAsync(_writerToFake);

    /// <summary>
    /// Writes Pushes batches' worth of records into one partition, then waits until every push is
    /// acknowledged. In steady state each round seals and pushes exactly Pushes batches (the last
    /// sealed batch waits in the silo's filling push and goes out with the next round).
    /// </summary>
    private async Task WriteBatchesAsync(ShuffleWriter writer)
    {
        var record = _record.AsMemory();
        for (int i = 0; i < _recordsPerInvoke; i++) await writer.WriteAsync(WriterPartition, record);
        // Every batch acknowledged, as CloseAsync would wait, without ending the map.
        await writer.WaitForPushesAsync(CancellationToken.None);
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _writerToSilo.DisposeAsync();
        await _writerToFake.DisposeAsync();
        await _siloPool.DisposeAsync();
        await _fakePool.DisposeAsync();
        await _toSilo.DisposeAsync();
        await _toFake.DisposeAsync();
        await _inMemory.DisposeAsync();
        _fake.Dispose();
        await _host.DisposeAsync();
    }
}
