using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// The whole fetch path of one 8 MiB chunk (128 batches of 64 KiB) of a committed partition file that
/// <see cref="Grains.Storage.PartitionFileWriter"/> wrote: the silo reading it into the connection
/// (<see cref="ConnectionResponder.ReplyChunkAsync"/>), the client receiving it (<see cref="GridConnection"/>,
/// <see cref="GridResponse"/>), checking it (<see cref="ChunkFetcher"/>, <see cref="FetchedChunk.Verify"/>)
/// and iterating its batches. Figures are per chunk. The allocation column counts every thread of the
/// process; the silo-only and client-only variants split it. Budget: 0 B per chunk.
/// </summary>
[MemoryDiagnoser]
public class FetchPathBenchmarks
{
    private const int ChunkBytes = 8 * 1024 * 1024;
    private const int BatchBytes = 64 * 1024;
    private const int Chunks = 2;

    private DataPlaneHost _host = null!;
    private HostedPartition _partition = null!;
    private FakeSilo _fake = null!;
    private ConnectionPool _siloPool = null!;
    private ConnectionPool _fakePool = null!;
    private GridClientTransport _siloTransport = null!;
    private GridClientTransport _fakeTransport = null!;
    private InMemoryConnection _inMemory = null!;
    private Pipe _pipe = null!;
    private ConnectionResponder _responder = null!;
    private Task _pipeDrain = Task.CompletedTask;
    private readonly FetchChunk[] _requests = new FetchChunk[Chunks];
    private readonly byte[][] _requestFrames = new byte[Chunks][];
    private readonly ChunkRef[] _siloChunks = new ChunkRef[Chunks];
    private readonly ChunkRef[] _fakeChunks = new ChunkRef[Chunks];
    private readonly byte[][] _chunkBytes = new byte[Chunks][];

    [GlobalSetup]
    public async Task Setup()
    {
        _host = await DataPlaneHost.StartAsync(ChunkBytes);
        _partition = _host.Reserve(0);
        var batch = new byte[BatchBytes];
        var random = new Random(7);
        int batches = Chunks * ChunkBytes / BatchBytes;
        for (int i = 0; i < batches; i++)
        {
            var payload = batch.AsSpan(BatchHeader.Size);
            random.NextBytes(payload);
            BatchHeader.Write(batch, 1, 0, i, payload);
            _partition.Append(new ReadOnlySequence<byte>(batch));
        }
        var committed = await _host.Catalog.CommitAsync(_partition);
        if (committed.ChunkCount != Chunks) throw new InvalidOperationException($"The file has {committed.ChunkCount} chunks, not {Chunks}.");

        for (int c = 0; c < Chunks; c++)
        {
            var (buffer, length) = _partition.File.ReadChunk(c, 0, int.MaxValue);
            _chunkBytes[c] = buffer.AsSpan(0, length).ToArray();
            ArrayPool<byte>.Shared.Return(buffer);
            _requests[c] = new FetchChunk(DataPlaneHost.AppId, DataPlaneHost.ShuffleId, 0, 0, c, 0, int.MaxValue);
            using var frame = new PooledBufferWriter();
            FrameWriter.Write(frame, MessageType.FetchChunk, FrameFlags.None, (ulong)c + 1, _requests[c], int.MaxValue);
            _requestFrames[c] = frame.WrittenSpan.ToArray();
        }

        _fake = new FakeSilo(_chunkBytes);
        var fakeSilo = new SiloEndpoint("fake", "fake", "127.0.0.1", _fake.Port);
        for (int c = 0; c < Chunks; c++)
        {
            long expected = committed.ChunkOffsets[c + 1] - committed.ChunkOffsets[c];
            _siloChunks[c] = new ChunkRef(_host.Silo, 0, c, expected);
            _fakeChunks[c] = new ChunkRef(fakeSilo, 0, c, expected);
        }

        var connection = new GridConnectionOptions { PeerName = "bench-client" };
        _siloPool = new ConnectionPool(connection);
        _fakePool = new ConnectionPool(connection);
        _siloTransport = new GridClientTransport(null!, _siloPool, null!);
        _fakeTransport = new GridClientTransport(null!, _fakePool, null!);

        // The silo's reply writer over a pipe with the endpoint's write-buffer limit, drained as a socket would be.
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4L * 1024 * 1024, resumeWriterThreshold: 2L * 1024 * 1024, useSynchronizationContext: false));
        _responder = new ConnectionResponder(_pipe.Writer, ProtocolConstants.DefaultMaxFrameBodyBytes);
        _pipeDrain = Task.Run(() => DrainAsync(_pipe.Reader));

        _inMemory = _host.OpenInMemory();
        using (var hello = new PooledBufferWriter())
        {
            FrameWriter.Write(hello, MessageType.Hello, FrameFlags.None, 1, Hello.ForThisBuild("bench-client"), int.MaxValue);
            await _inMemory.ToSilo.WriteAsync(hello.WrittenMemory);
            await FrameDrain.DrainFrameAsync(_inMemory.FromSilo);
        }

        // Every path once, so a broken setup fails here.
        await ResponderIntoPipe();
        await InMemorySilo();
        await ChunkFetcherFromSilo();
        await ChunkFetcherFromFake();
        VerifyAndIterate();
    }

    private static async Task DrainAsync(PipeReader reader)
    {
        // Ends when the writer completes.
        while (true)
        {
            var result = await reader.ReadAsync().ConfigureAwait(false);
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        await reader.CompleteAsync().ConfigureAwait(false);
    }

    [Benchmark(Description = "Silo only: OpenChunk + ConnectionResponder.ReplyChunkAsync 8 MiB into a Pipe", OperationsPerInvoke = Chunks)]
    public async Task ResponderIntoPipe()
    {
        for (int c = 0; c < Chunks; c++)
        {
            using var chunk = _partition.File.OpenChunk(c);
            await _responder.ReplyChunkAsync(new FrameHeader(0, MessageType.FetchChunk, FrameFlags.None, (ulong)c + 1), chunk);
        }
    }

    [Benchmark(Description = "Silo only: DataConnectionHandler over in-memory pipes, FetchChunk 8 MiB", OperationsPerInvoke = Chunks)]
    public async Task InMemorySilo()
    {
        for (int c = 0; c < Chunks; c++)
        {
            await _inMemory.ToSilo.WriteAsync(_requestFrames[c]);
            int length = await FrameDrain.DrainFrameAsync(_inMemory.FromSilo);
            if (length != _chunkBytes[c].Length) throw new InvalidOperationException($"Chunk {c} came back with {length} bytes.");
        }
    }

    [Benchmark(Description = "Loopback: ChunkFetcher.FetchAsync 8 MiB + verify + iterate batches <- real silo", OperationsPerInvoke = Chunks)]
    public Task<long> ChunkFetcherFromSilo() => FetchAndIterateAsync(_siloTransport, _siloChunks);

    [Benchmark(Description = "Client only: ChunkFetcher.FetchAsync 8 MiB + verify + iterate batches <- fake silo", OperationsPerInvoke = Chunks)]
    public Task<long> ChunkFetcherFromFake() => FetchAndIterateAsync(_fakeTransport, _fakeChunks);

    [Benchmark(Description = "Client only: FetchedChunk.Verify + TryReadBatch over 8 MiB in memory", OperationsPerInvoke = Chunks)]
    public long VerifyAndIterate()
    {
        long payload = 0;
        for (int c = 0; c < Chunks; c++)
        {
            using var chunk = new FetchedChunk(_chunkBytes[c], owner: null);
            chunk.Verify();
            payload += Iterate(chunk);
        }
        return payload;
    }

    private async Task<long> FetchAndIterateAsync(IChunkSource source, ChunkRef[] chunks)
    {
        long payload = 0;
        for (int c = 0; c < Chunks; c++)
        {
            using var chunk = await ChunkFetcher.FetchAsync(source, _requests[c], chunks[c], otherCopyLeft: false, CancellationToken.None);
            payload += Iterate(chunk);
        }
        return payload;
    }

    /// <summary>The reader's walk over a verified chunk (ShuffleReader.ReadBatchesAsync without the dedup filter).</summary>
    private static long Iterate(FetchedChunk chunk)
    {
        long payload = 0;
        int offset = 0;
        int batches = 0;
        while (chunk.TryReadBatch(ref offset, out _, out var bytes))
        {
            payload += bytes.Length;
            batches++;
        }
        if (batches != chunk.BatchCount) throw new InvalidOperationException($"Iterated {batches} batches of {chunk.BatchCount}.");
        return payload;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _pipe.Writer.CompleteAsync();
        await _pipeDrain;
        _responder.Dispose();
        await _siloPool.DisposeAsync();
        await _fakePool.DisposeAsync();
        await _inMemory.DisposeAsync();
        _fake.Dispose();
        await _host.DisposeAsync();
    }
}
