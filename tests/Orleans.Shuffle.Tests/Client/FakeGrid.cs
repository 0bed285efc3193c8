using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Client.Compression;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>
/// One entry of a PushData as a fake silo saw it; the batch is copied, its checksum checked and its
/// payload decompressed into <see cref="Payload"/> (the framed records), its codec kept in <see cref="Codec"/>.
/// </summary>
internal sealed record PushedEntry(int PartitionId, int Epoch, int MapId, int AttemptId, int BatchId, byte[] Payload, BatchCodec Codec = BatchCodec.None);

/// <summary>One Revive call a writer made to the ShuffleGrain; the lists are copied.</summary>
internal sealed record ReviveCall(string AppId, int ShuffleId, IReadOnlyList<PartitionRef> Partitions, IReadOnlyList<string> ExcludedSilos);

/// <summary>One MapperEnd call a writer made to the ShuffleGrain.</summary>
internal sealed record MapperEndCall(string AppId, int ShuffleId, int MapId, int AttemptId);

/// <summary>One PushData as a fake silo saw it.</summary>
internal sealed record PushCall(int Sequence, string Host, int Port, IReadOnlyList<PushedEntry> Entries)
{
    public static PushCall Parse(int sequence, string host, int port, PushDataBody body)
    {
        var bytes = body.Entries.ToArray();
        var entries = new List<PushedEntry>(body.EntryCount);
        using var decompressor = new BatchDecompressor();
        int offset = 0;
        for (int i = 0; i < body.EntryCount; i++)
        {
            int partition = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
            int epoch = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 4));
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 8));
            var batch = bytes.AsSpan(offset + PushData.EntryHeaderBytes, length);
            var iterator = new BatchIterator(batch, verify: true);
            Assert.True(iterator.MoveNext(out var header, out _));
            Assert.Equal(length, header.TotalLength);
            var stored = bytes.AsMemory(offset + PushData.EntryHeaderBytes + BatchHeader.Size, header.PayloadLength);
            var records = decompressor.Decode(header, stored).ToArray();
            entries.Add(new PushedEntry(partition, epoch, header.MapId, header.AttemptId, header.BatchId, records, header.Codec));
            offset += PushData.EntryHeaderBytes + length;
        }
        Assert.Equal(bytes.Length, offset);
        return new PushCall(sequence, host, port, entries);
    }
}

/// <summary>
/// The grid as a writer sees it, scripted by the test: every push and revive is recorded, and the
/// handlers decide the answers. By default pushes are stored and revives move a partition to
/// epoch + 1 on <see cref="DefaultReviveSilo"/>.
/// </summary>
internal sealed class FakePushTransport : IPushTransport
{
    private int _sequence;

    public ConcurrentQueue<PushCall> Pushes { get; } = new();

    /// <summary>Pushes the fake stored (the handler returned a reply).</summary>
    public ConcurrentQueue<PushCall> Stored { get; } = new();

    public ConcurrentQueue<ReviveCall> Revives { get; } = new();

    public ConcurrentQueue<MapperEndCall> MapperEnds { get; } = new();

    /// <summary>Stored pushes counted when MapperEnd arrived.</summary>
    public int StoredAtMapperEnd { get; private set; } = -1;

    public int PushFailedCalls;

    public SiloEndpoint DefaultReviveSilo { get; set; } = new("silo-b@2", "silo-b", "b", 2);

    public Func<PushCall, Task<PushReply>> OnPush { get; set; } = _ => Task.FromResult(PushReply.None);

    public Func<ReviveCall, IReadOnlyList<PartitionLocation>>? OnRevive { get; set; }

    /// <summary>Sees each push's body as the writer sent it (its own buffers), before it is parsed.</summary>
    public Action<PushDataBody>? OnBody { get; set; }

    public async ValueTask<PushReply> PushAsync(string host, int port, PushDataBody body, CancellationToken cancellationToken)
    {
        OnBody?.Invoke(body);
        // Parsed (copied) before the first await: after the task completes the writer may reuse the buffers.
        var call = PushCall.Parse(Interlocked.Increment(ref _sequence), host, port, body);
        Pushes.Enqueue(call);
        var reply = await OnPush(call).WaitAsync(cancellationToken);
        Stored.Enqueue(call);
        return reply;
    }

    public Task<IReadOnlyList<PartitionLocation>> ReviveAsync(
        string appId, int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos, CancellationToken cancellationToken)
    {
        var request = new ReviveCall(appId, shuffleId, [.. partitions], [.. excludedSilos]);
        Revives.Enqueue(request);
        var answer = OnRevive is not null
            ? OnRevive(request)
            : request.Partitions.Select(p => new PartitionLocation(p.PartitionId, p.Epoch + 1, DefaultReviveSilo)).ToArray();
        return Task.FromResult(answer);
    }

    public Task<MapperEndReply> MapperEndAsync(string appId, int shuffleId, int mapId, int attemptId, CancellationToken cancellationToken)
    {
        StoredAtMapperEnd = Stored.Count;
        MapperEnds.Enqueue(new MapperEndCall(appId, shuffleId, mapId, attemptId));
        return Task.FromResult(new MapperEndReply(true, attemptId, false));
    }

    public void OnPushFailed(string appId, int shuffleId) => Interlocked.Increment(ref PushFailedCalls);

    public IEnumerable<PushedEntry> StoredEntries => Stored.SelectMany(c => c.Entries);

    public static Task<PushReply> Fail(GridErrorCode code) => Task.FromException<PushReply>(new GridException(code, $"scripted {code}"));
}

/// <summary>
/// Committed copies served by fake silos: each copy is a list of batches cut into chunks. A test
/// breaks a copy by scripting errors or wrong bytes for some chunks, and scripts what the
/// ShuffleGrain says when the reader asks whether the shuffle still exists (by default: it does).
/// </summary>
internal sealed class FakeChunkSource(IndexedFileGroup group) : IChunkSource
{
    private readonly ConcurrentDictionary<(string Host, int Port, int Epoch, int Chunk), Func<byte[]>> _chunks = new();
    private int _outstanding;

    public ConcurrentQueue<(string Host, int Epoch, int Chunk)> Fetches { get; } = new();

    /// <summary>Chunks handed out and not disposed yet.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Every ConfirmShuffleAsync call, by (app, shuffle).</summary>
    public ConcurrentQueue<(string AppId, int ShuffleId)> Confirms { get; } = new();

    /// <summary>What ConfirmShuffleAsync does; null: the shuffle is still registered.</summary>
    public Func<Task>? OnConfirm { get; set; }

    public Task<IndexedFileGroup> GetFileGroupAsync(string appId, int shuffleId, CancellationToken cancellationToken) => Task.FromResult(group);

    public Task ConfirmShuffleAsync(string appId, int shuffleId, CancellationToken cancellationToken)
    {
        Confirms.Enqueue((appId, shuffleId));
        return OnConfirm?.Invoke() ?? Task.CompletedTask;
    }

    public Task<FetchedChunk> FetchChunkAsync(string host, int port, FetchChunk request, CancellationToken cancellationToken)
    {
        Fetches.Enqueue((host, request.Epoch, request.ChunkIndex));
        if (!_chunks.TryGetValue((host, port, request.Epoch, request.ChunkIndex), out var serve))
            return Task.FromException<FetchedChunk>(new GridException(GridErrorCode.UnknownPartition, $"{host} has no chunk {request.ChunkIndex} of epoch {request.Epoch}"));
        try
        {
            var bytes = serve();
            Interlocked.Increment(ref _outstanding);
            return Task.FromResult(new FetchedChunk(bytes, new Release(this)));
        }
        catch (Exception e)
        {
            return Task.FromException<FetchedChunk>(e);
        }
    }

    public void Serve(SiloEndpoint silo, int epoch, int chunk, Func<byte[]> serve) => _chunks[(silo.Host, silo.Port, epoch, chunk)] = serve;

    private sealed class Release(FakeChunkSource source) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) Interlocked.Decrement(ref source._outstanding);
        }
    }
}

/// <summary>Builds committed copies (files cut into chunks) of partition epochs, and serves them from a <see cref="FakeChunkSource"/>.</summary>
internal static class CommittedCopies
{
    /// <summary>Batch bytes of one map attempt holding the given records (one batch per call).</summary>
    public static byte[] Batch(int map, int attempt, int batchId, params string[] records) =>
        TestBatches.Make(map, attempt, batchId, TestBatches.FrameRecords(records));

    /// <summary>A copy of the given batches, <paramref name="batchesPerChunk"/> to a chunk, and its chunk bytes.</summary>
    public static (CommittedCopy Copy, byte[][] Chunks) Make(SiloEndpoint silo, IReadOnlyList<byte[]> batches, int batchesPerChunk, int? claimedBatchCount = null)
    {
        var chunks = batches.Chunk(batchesPerChunk).Select(c => c.SelectMany(b => b).ToArray()).ToArray();
        var offsets = new long[chunks.Length + 1];
        for (int i = 0; i < chunks.Length; i++) offsets[i + 1] = offsets[i] + chunks[i].Length;
        var file = new CommittedFile(offsets[^1], claimedBatchCount ?? batches.Count, 0, offsets);
        return (new CommittedCopy(silo, file), chunks);
    }

    public static void ServeAll(FakeChunkSource source, CommittedCopy copy, int epoch, byte[][] chunks)
    {
        for (int i = 0; i < chunks.Length; i++)
        {
            var bytes = chunks[i];
            source.Serve(copy.Silo, epoch, i, () => bytes);
        }
    }

    public static string[] Records(byte[] batch)
    {
        var records = new List<string>();
        var iterator = new BatchIterator(batch);
        while (iterator.MoveNext(out _, out var payload))
        {
            int offset = 0;
            while (offset < payload.Length)
            {
                int length = BinaryPrimitives.ReadInt32LittleEndian(payload[offset..]);
                records.Add(System.Text.Encoding.UTF8.GetString(payload.Slice(offset + 4, length)));
                offset += 4 + length;
            }
        }
        return [.. records];
    }
}
