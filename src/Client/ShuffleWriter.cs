using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client.Compression;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Writes the output of one map attempt. Records are copied into a pooled buffer per partition; a
/// full buffer is sealed into a batch, batches bound for one silo are merged into one PushData,
/// and at most MaxPushesInFlightPerSilo pushes per silo are in flight, so a slow silo slows the
/// writer instead of growing its memory. Writes are meant for one thread (a map task); pushes run
/// in the background, and a push that fails for good fails the next write, flush or close.
/// <para>
/// Fault tolerance: a push that fails because its silo is gone, leaving, or cannot store (see
/// <see cref="RetryPolicy.IsRevivablePush"/>) is not lost. The writer asks the ShuffleGrain for a new
/// epoch of each partition in it (a Revive, batched over <see cref="GridClientOptions.ReviveBatchWindow"/>,
/// leaving out the failed silo), points the batches' entry headers at the new epochs (batch ids and
/// bytes unchanged), and sends them to the new primaries; later batches of those partitions go there
/// too. A partition the silo reports as split is revived the same way for later batches. A batch is
/// never dropped: it is resent until acknowledged or the writer fails (after
/// <see cref="GridClientOptions.MaxRevivesPerPartition"/> revives of one partition). Readers read
/// every committed epoch and drop batches stored twice.
/// </para>
/// </summary>
public sealed class ShuffleWriter : IAsyncDisposable
{
    /// <summary>
    /// Each partition buffer starts with room for the PushData entry header and the batch header,
    /// so sealing fills both in place and the buffer is pushed as it is, without another copy.
    /// </summary>
    internal const int EntryPrefixBytes = PushData.EntryHeaderBytes + BatchHeader.Size;

    private const int Open = 0, Closing = 1, Closed = 2, Disposed = 3;

    /// <summary>
    /// How long disposal waits for cancelled pushes to finish. Cancelling ends the wait for a reply
    /// at once, but a socket write to a hung silo is not cancellable; such a push frees its buffers
    /// when the connection closes, so disposal need not wait for it.
    /// </summary>
    private static readonly TimeSpan AbandonWait = TimeSpan.FromSeconds(10);

    /// <summary>Upper bound on buffers a writer keeps for reuse (256 MiB at the default 64 KiB).</summary>
    private const int MaxRecycledBuffers = 4096;

    private readonly IPushTransport _transport;
    private readonly string _appId;
    private readonly int _shuffleId;
    private readonly int _mapId;
    private readonly int _attemptId;
    private readonly int _payloadCapacity;
    private readonly int _mergedPushBytes;

    // A sealed entry at most this long is copied into an array of its own size (see SealBuffer).
    private readonly int _smallEntryBytes;
    private readonly int _pushRetries;
    private readonly int _maxPushesInFlightPerSilo;
    private readonly int _maxRevivesPerPartition;

    // Where each partition's batches go. Sealing reads it on the writer's thread; revives replace
    // entries (under _routeLock) from push completions.
    private readonly PartitionRoute[] _routes;

    // Revives of each partition caused by failed pushes (splits do not count); under _routeLock.
    private readonly int[] _failureRevives;
    private readonly Dictionary<SiloEndpoint, SiloPushTarget> _targetBySilo = [];
    private readonly Lock _routeLock = new();

    // Every silo target so far; copy-on-write under _routeLock, read without locking.
    private SiloPushTarget[] _targets = [];
    private readonly ReviveBatcher _revives;
    private readonly WorkTracker _work = new();
    private readonly byte[]?[] _buffers;
    private readonly int[] _used;
    private readonly int[] _nextBatchId;
    private readonly BufferRecycler _recycler;
    private readonly MergedPushPool _pushes;

    // RunPushAsync as a delegate made once, so starting a push allocates no closure.
    private readonly Func<MergedPush, ValueTask> _runPush;
    private readonly BatchCompressor? _compressor;
    private CompressionBackoff _compressionBackoff;

    // Cancels pushes when the writer is abandoned. Never disposed: a push still running reads its token.
    private readonly CancellationTokenSource _abort = new();
    private GridException? _failure;
    private int _state;
    private long _recordsWritten;
    private long _bytesWritten;
    private long _payloadBytes;
    private long _storedPayloadBytes;
    private long _batchesPushed;
    private long _pushRequests;
    private long _revived;
    private long _batchesResent;

    /// <param name="locations">One location per partition, indexed by partition id.</param>
    internal ShuffleWriter(
        IPushTransport transport, GridClientOptions options, string appId, int shuffleId, int mapId, int attemptId,
        IReadOnlyList<PartitionLocation> locations)
    {
        _transport = transport;
        _appId = appId;
        _shuffleId = shuffleId;
        _mapId = mapId;
        _attemptId = attemptId;
        // PushBufferBytes is the whole buffer; a buffer too small for any record still works:
        // every record then takes the oversized path and becomes its own batch.
        _payloadCapacity = Math.Max(1, options.PushBufferBytes - EntryPrefixBytes);
        _mergedPushBytes = options.MergedPushBytes;
        _smallEntryBytes = Math.Max(1, options.PushBufferBytes / 8);
        _pushRetries = options.PushRetries;
        _maxPushesInFlightPerSilo = options.MaxPushesInFlightPerSilo;
        _maxRevivesPerPartition = options.MaxRevivesPerPartition;

        // The recycler keeps about as many buffers as can be in flight: what comes back from a
        // push is taken again by the next sealed partition.
        int silos = locations.Select(l => l.Primary).Distinct().Count();
        long inFlightBuffers = (long)silos * options.MaxPushesInFlightPerSilo * (options.MergedPushBytes / options.PushBufferBytes + 1);
        _recycler = new BufferRecycler(EntryPrefixBytes + _payloadCapacity, (int)Math.Min(inFlightBuffers, MaxRecycledBuffers));
        // Pushes being filled, queued and in flight: one filling plus the in-flight limit per silo, with room for resends.
        _pushes = new MergedPushPool(_recycler, (int)Math.Min(2L * silos * (options.MaxPushesInFlightPerSilo + 1), MaxRecycledBuffers));
        _runPush = RunPushAsync;
        _compressor = BatchCompressor.Create(options.Compression, options.ZstdLevel);

        int partitions = locations.Count;
        _routes = new PartitionRoute[partitions];
        _failureRevives = new int[partitions];
        _buffers = new byte[]?[partitions];
        _used = new int[partitions];
        _nextBatchId = new int[partitions];
        var shared = new Dictionary<(int Epoch, SiloPushTarget Target), PartitionRoute>();
        for (int p = 0; p < partitions; p++)
        {
            var location = locations[p];
            if (location.PartitionId != p)
                throw new ArgumentException($"Location {p} is for partition {location.PartitionId}.", nameof(locations));
            var target = TargetFor(location.Primary);
            if (!shared.TryGetValue((location.Epoch, target), out var route))
            {
                route = new PartitionRoute(location.Epoch, target);
                shared.Add((location.Epoch, target), route);
            }
            _routes[p] = route;
        }
        _revives = new ReviveBatcher(options.ReviveBatchWindow, (partitions, excluded, ct) => transport.ReviveAsync(appId, shuffleId, partitions, excluded, ct), ApplyRevived, _abort.Token);
    }

    public long RecordsWritten => Interlocked.Read(ref _recordsWritten);

    /// <summary>Bytes of the records themselves, without framing or headers.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Batches the silos acknowledged.</summary>
    public long BatchesPushed => Interlocked.Read(ref _batchesPushed);

    /// <summary>Completes when no push is in flight (what <see cref="CloseAsync"/> waits for), for benchmarks that push without closing.</summary>
    internal Task WaitForPushesAsync(CancellationToken ct) => _work.WaitIdleAsync(ct);

    /// <summary>Payload bytes of the sealed batches (records and their length prefixes), before compression.</summary>
    public long PayloadBytes => Interlocked.Read(ref _payloadBytes);

    /// <summary>Payload bytes of the sealed batches as pushed: <see cref="PayloadBytes"/> over this is the compression ratio.</summary>
    public long StoredPayloadBytes => Interlocked.Read(ref _storedPayloadBytes);

    /// <summary>PushData requests sent, retries and resends included.</summary>
    public long PushRequests => Interlocked.Read(ref _pushRequests);

    /// <summary>Partitions this writer moved to a newer epoch (after failed pushes or split notices).</summary>
    public long Revives => Interlocked.Read(ref _revived);

    /// <summary>Revive requests this writer sent; one request carries the partitions of one batching window.</summary>
    public long ReviveRequests => _revives.Requests;

    /// <summary>Batches sent again to a new epoch after a push failed.</summary>
    public long BatchesResent => Interlocked.Read(ref _batchesResent);

    /// <summary>
    /// Writes one record. Completes synchronously unless a full batch must wait for push capacity;
    /// the record is copied before this returns, so the caller may reuse its memory at once.
    /// </summary>
    public ValueTask WriteAsync(int partitionId, ReadOnlyMemory<byte> record, CancellationToken ct = default) =>
        TryWrite(partitionId, record.Span) ? default : WriteAfterFlushAsync(partitionId, record, ct);

    /// <summary>
    /// Writes one record without waiting. Returns false, having written nothing, when the record
    /// needs push capacity that is not free yet: await <see cref="FlushPendingAsync"/> and try again.
    /// </summary>
    public bool TryWrite(int partitionId, ReadOnlySpan<byte> record)
    {
        ThrowIfNotWritable();
        if ((uint)partitionId >= (uint)_buffers.Length)
            throw new ArgumentOutOfRangeException(nameof(partitionId), partitionId, $"The shuffle has {_buffers.Length} partitions.");

        // Fast path: the record fits in the partition's open buffer.
        byte[]? buffer = _buffers[partitionId];
        int used = _used[partitionId];
        if (buffer is not null && record.Length <= _payloadCapacity - RecordFraming.PrefixBytes - used)
        {
            RecordFraming.Write(buffer.AsSpan(EntryPrefixBytes + used), record);
            _used[partitionId] = used + RecordFraming.PrefixBytes + record.Length;
            _recordsWritten++;
            _bytesWritten += record.Length;
            return true;
        }
        return TryWriteSealing(partitionId, record);
    }

    /// <summary>
    /// Sends every full push that waits for a slot, waiting for slots as needed. Afterwards
    /// <see cref="TryWrite"/> accepts at least one more record. It does not seal partly filled
    /// buffers and does not wait for pushes in flight (<see cref="CloseAsync"/> does both).
    /// </summary>
    public async Task FlushPendingAsync(CancellationToken ct = default)
    {
        ThrowIfNotWritable();
        foreach (var target in Volatile.Read(ref _targets)) await SendReadyAsync(target, ct).ConfigureAwait(false);
        ThrowIfFailed();
    }

    /// <summary>
    /// Seals every buffer, pushes everything, waits until every batch is acknowledged (resends to
    /// revived epochs included) and sends MapperEnd. The reply says whether this attempt won its
    /// map. Dispose the writer afterwards, also after a failure.
    /// </summary>
    public async Task<MapperEndReply> CloseAsync(CancellationToken ct = default)
    {
        ThrowIfNotWritable();
        Volatile.Write(ref _state, Closing);
        for (int p = 0; p < _buffers.Length; p++)
        {
            if (_used[p] == 0) continue;
            var route = Volatile.Read(ref _routes[p]);
            var target = route.Target;
            if (target.ReadyCount > 0) await SendReadyAsync(target, ct).ConfigureAwait(false);
            Seal(p, route);
            DispatchReady(target);
        }
        // Nothing is sealed after this point, so a target a revive adds later gets no queued push.
        foreach (var target in Volatile.Read(ref _targets))
        {
            target.SealFilling();
            await SendReadyAsync(target, ct).ConfigureAwait(false);
        }
        await _work.WaitIdleAsync(ct).ConfigureAwait(false);
        ThrowIfFailed();

        var reply = await _transport.MapperEndAsync(_appId, _shuffleId, _mapId, _attemptId, ct).ConfigureAwait(false);
        Volatile.Write(ref _state, Closed);
        return reply;
    }

    /// <summary>Without a successful <see cref="CloseAsync"/> this abandons the attempt: pushes in flight are cancelled and no MapperEnd is sent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_state == Disposed) return;
        Volatile.Write(ref _state, Disposed);
        _abort.Cancel();
        using (var giveUp = new CancellationTokenSource(AbandonWait))
        {
            try
            {
                await _work.WaitIdleAsync(giveUp.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A push is stuck in a socket write; see AbandonWait.
            }
        }
        foreach (var target in Volatile.Read(ref _targets)) target.DiscardUnsent();
        for (int p = 0; p < _buffers.Length; p++)
        {
            var buffer = _buffers[p];
            if (buffer is null) continue;
            _buffers[p] = null;
            _used[p] = 0;
            _recycler.Return(buffer);
        }
        _recycler.Clear();
        _compressor?.Dispose();
    }

    private async ValueTask WriteAfterFlushAsync(int partitionId, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
    {
        // After a flush the silo has no push waiting for a slot, so the write is accepted; the
        // second round only covers a revive that moved the partition to another silo meanwhile.
        for (int round = 0; round < 2; round++)
        {
            await FlushPendingAsync(cancellationToken).ConfigureAwait(false);
            if (TryWrite(partitionId, record.Span)) return;
        }
        throw new InvalidOperationException("The writer refused a record right after flushing.");
    }

    /// <summary>The record does not fit in the open buffer: seal it (and maybe the record alone) as batches.</summary>
    private bool TryWriteSealing(int partitionId, ReadOnlySpan<byte> record)
    {
        bool oversized = record.Length > _payloadCapacity - RecordFraming.PrefixBytes;
        if (oversized && record.Length > ProtocolConstants.MaxBatchPayloadBytes - RecordFraming.PrefixBytes)
        {
            throw new ArgumentException(
                $"A record of {record.Length} bytes is larger than a batch may be ({ProtocolConstants.MaxBatchPayloadBytes - RecordFraming.PrefixBytes} bytes).",
                nameof(record));
        }

        // Read once: a revive may replace the route meanwhile, and the capacity check below must be
        // for the silo the batch goes to.
        var route = Volatile.Read(ref _routes[partitionId]);
        var target = route.Target;
        bool seals = oversized || _used[partitionId] > 0;
        if (seals)
        {
            // A new batch for this silo is accepted only when no full push waits for a slot: that
            // is what bounds the writer's memory when the silo is slow.
            DispatchReady(target);
            if (target.ReadyCount > 0) return false;
        }

        if (_used[partitionId] > 0) Seal(partitionId, route);
        if (oversized)
        {
            // The record is a batch of its own, in an array sized for it.
            int payloadLength = RecordFraming.PrefixBytes + record.Length;
            var single = ArrayPool<byte>.Shared.Rent(EntryPrefixBytes + payloadLength);
            RecordFraming.Write(single.AsSpan(EntryPrefixBytes), record);
            SealBuffer(partitionId, single, payloadLength, route);
        }
        else
        {
            var buffer = _buffers[partitionId] ??= _recycler.Rent();
            RecordFraming.Write(buffer.AsSpan(EntryPrefixBytes), record);
            _used[partitionId] = RecordFraming.PrefixBytes + record.Length;
        }
        _recordsWritten++;
        _bytesWritten += record.Length;
        if (seals) DispatchReady(target);
        return true;
    }

    private void Seal(int partitionId, PartitionRoute route)
    {
        var buffer = _buffers[partitionId]!;
        int payloadLength = _used[partitionId];
        _buffers[partitionId] = null;
        _used[partitionId] = 0;
        SealBuffer(partitionId, buffer, payloadLength, route);
    }

    /// <summary>Fills in the entry and batch headers in front of the payload and hands the batch to the route's silo.</summary>
    private void SealBuffer(int partitionId, byte[] buffer, int payloadLength, PartitionRoute route)
    {
        int batchId = _nextBatchId[partitionId]++;
        var (stored, storedLength, codec) = Compress(buffer, payloadLength);
        var span = stored.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, partitionId);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], route.Epoch);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], BatchHeader.Size + storedLength);
        BatchHeader.Write(span.Slice(PushData.EntryHeaderBytes, BatchHeader.Size), _mapId, _attemptId, batchId, codec, payloadLength,
            span.Slice(EntryPrefixBytes, storedLength));
        _payloadBytes += payloadLength;
        _storedPayloadBytes += storedLength;
        int entryLength = EntryPrefixBytes + storedLength;
        if (entryLength <= _smallEntryBytes && stored.Length >= _recycler.BufferLength)
        {
            // A small batch (a partition's last records at close, a batch that compressed many times
            // over) moves to an array of its size and its full buffer goes back to the recycler now:
            // a merged push of many small batches would otherwise pin a whole buffer for each, more
            // than the recycler keeps, while it still merges them into one push.
            var small = _recycler.RentSmall(entryLength);
            stored.AsSpan(0, entryLength).CopyTo(small);
            _recycler.Return(stored);
            stored = small;
        }
        route.Target.Add(new SealedBatch(stored, entryLength), _mergedPushBytes);
    }

    /// <summary>
    /// The payload compressed into a second buffer when that saves at least 1/16 of it (the raw
    /// buffer then goes straight back to the recycler), else the raw buffer as it is: a smaller
    /// saving is not worth the reader's decoding. Compressing is the one copy of the batch the
    /// writer makes; an uncompressed batch is pushed from where it was framed. Batches of data that
    /// does not compress are mostly not even tried (<see cref="CompressionBackoff"/>).
    /// </summary>
    private (byte[] Buffer, int Length, BatchCodec Codec) Compress(byte[] raw, int payloadLength)
    {
        if (_compressor is null || !_compressionBackoff.ShouldTry()) return (raw, payloadLength, BatchCodec.None);
        var packed = payloadLength <= _payloadCapacity ? _recycler.Rent() : ArrayPool<byte>.Shared.Rent(EntryPrefixBytes + payloadLength);
        // Output that would not save enough does not fit the destination, so is not kept.
        int worthIt = payloadLength - Math.Max(1, payloadLength / 16);
        if (_compressor.TryCompress(raw.AsSpan(EntryPrefixBytes, payloadLength), packed.AsSpan(EntryPrefixBytes, worthIt), out int written))
        {
            _compressionBackoff.Shrank();
            _recycler.Return(raw);
            return (packed, written, _compressor.Codec);
        }
        _compressionBackoff.DidNotShrink();
        _recycler.Return(packed);
        return (raw, payloadLength, BatchCodec.None);
    }

    /// <summary>Starts every ready push of the silo that has a free slot; never waits.</summary>
    private void DispatchReady(SiloPushTarget target)
    {
        // Bounded: each round takes one push off the ready queue.
        while (target.TryTakeReady(out var push)) StartPush(target, push);
    }

    /// <summary>Starts every ready push of the silo, waiting for slots.</summary>
    private async Task SendReadyAsync(SiloPushTarget target, CancellationToken cancellationToken)
    {
        for (int count = target.ReadyCount; count > 0; count--)
        {
            var push = await target.TakeReadyAsync(cancellationToken).ConfigureAwait(false);
            StartPush(target, push);
        }
    }

    /// <summary>Runs the push on the thread pool, so serializing and sending overlap with the map task's writes. The caller holds a slot.</summary>
    private void StartPush(SiloPushTarget target, MergedPush push)
    {
        _work.Enter();
        push.Start(target, holdsSlot: true, _runPush);
    }

    /// <summary>
    /// Sends one push to its <see cref="MergedPush.Target"/> until it is acknowledged, or hands its
    /// batches to new pushes after reviving their partitions, or fails the writer. Owns the push's
    /// batches (and, if <see cref="MergedPush.HoldsSlot"/>, a slot of the target); exits one unit of
    /// <see cref="_work"/>. Pooled, as is the push: a push in steady state allocates nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunPushAsync(MergedPush push)
    {
        var target = push.Target!;
        bool slot = push.HoldsSlot;
        try
        {
            // A silo found down is not waited for again: the push goes straight to a revive.
            var failure = target.Down;
            PushReply? reply = null;
            if (failure is null)
            {
                if (!slot)
                {
                    await target.Slots.WaitAsync(_abort.Token).ConfigureAwait(false);
                    slot = true;
                }
                try
                {
                    reply = await SendAsync(target, push).ConfigureAwait(false);
                }
                catch (GridException e) when (RetryPolicy.IsRevivablePush(e.Code) && !IsFailed)
                {
                    failure = e;
                    if (RetryPolicy.MeansSiloDown(e.Code)) target.MarkDown(e);
                }
            }
            if (failure is not null)
            {
                if (IsFailed) return;
                // No slot is held while waiting for a revive: the resends take slots of their own silos.
                if (slot) target.Slots.Release();
                slot = false;
                await ResendElsewhereAsync(target, push, failure).ConfigureAwait(false);
                return;
            }
            if (reply is null) return;
            Interlocked.Add(ref _batchesPushed, push.Count);
            if (reply.Splits.Count > 0) OnSplits(reply.Splits);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // The writer was abandoned; there is nobody to report to.
        }
        catch (Exception e)
        {
            Fail(target, push, e);
        }
        finally
        {
            if (slot) target.Slots.Release();
            push.Dispose();
            _work.Exit();
        }
    }

    /// <summary>
    /// Sends the push to its silo: again after a checksum mismatch (up to PushRetries) and once
    /// after a lost connection; other errors are thrown. Null when the writer failed meanwhile.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PushReply?> SendAsync(SiloPushTarget target, MergedPush push)
    {
        var body = push.ToBody(_appId, _shuffleId);
        int checksumRetries = 0, connectionRetries = 0;
        while (true)
        {
            // Once the writer failed its attempt is lost anyway; do not make the silo store more of it.
            if (IsFailed) return null;
            try
            {
                Interlocked.Increment(ref _pushRequests);
                return await _transport.PushAsync(target.Host, target.Port, body, _abort.Token).ConfigureAwait(false);
            }
            catch (GridException e) when (e.Code == GridErrorCode.ChecksumMismatch && checksumRetries < _pushRetries)
            {
                await Task.Delay(RetryPolicy.Backoff(checksumRetries++, RetryPolicy.FirstBackoff, RetryPolicy.MaxBackoff), _abort.Token)
                    .ConfigureAwait(false);
            }
            catch (GridException e) when (e.Code == GridErrorCode.ConnectionLost && connectionRetries < Math.Min(1, _pushRetries))
            {
                // One quick retry: the connection may have broken under a silo that is still fine.
                connectionRetries++;
                await Task.Delay(RetryPolicy.FirstBackoff, _abort.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The push failed in a way a new epoch elsewhere fixes: revive its partitions (leaving out the
    /// silo, unless the error does not say which silo failed), point its batches at the new epochs
    /// and send them, grouped by their new silos, as new pushes. Throws if the revives fail.
    /// </summary>
    private async Task ResendElsewhereAsync(SiloPushTarget failed, MergedPush push, GridException error)
    {
        string? excluded = RetryPolicy.ExcludesSilo(error.Code) ? failed.Identity : null;
        var routes = await RoutesAfterFailureAsync(failed, push, excluded, error).ConfigureAwait(false);

        // From here on nothing throws: the batches move to new pushes, which own them.
        var groups = new Dictionary<SiloPushTarget, MergedPush>();
        foreach (var batch in push.Batches)
        {
            var route = routes[batch.PartitionId];
            batch.SetEpoch(route.Epoch);
            if (!groups.TryGetValue(route.Target, out var group))
            {
                group = _pushes.Rent();
                groups.Add(route.Target, group);
            }
            group.Add(batch);
        }
        Interlocked.Add(ref _batchesResent, push.Count);
        push.Forget();
        foreach (var (target, group) in groups)
        {
            _work.Enter();
            group.Start(target, holdsSlot: false, _runPush);
        }
    }

    /// <summary>
    /// A route for every partition of the failed push, at an epoch newer than the one that failed.
    /// A partition already moved on (by another push's revive, or a split) is not asked for again,
    /// unless its new epoch is on the silo that just failed.
    /// </summary>
    private async Task<Dictionary<int, PartitionRoute>> RoutesAfterFailureAsync(
        SiloPushTarget failed, MergedPush push, string? excluded, GridException error)
    {
        var failedEpochs = new Dictionary<int, int>();
        foreach (var batch in push.Batches)
        {
            int p = batch.PartitionId;
            failedEpochs[p] = failedEpochs.TryGetValue(p, out int epoch) ? Math.Max(epoch, batch.Epoch) : batch.Epoch;
        }

        var routes = new Dictionary<int, PartitionRoute>(failedEpochs.Count);
        for (int round = 0; ; round++)
        {
            var asked = new List<(int Partition, Task<PartitionLocation> Reply)>();
            foreach (var (p, failedEpoch) in failedEpochs)
            {
                if (routes.ContainsKey(p)) continue;
                var route = Volatile.Read(ref _routes[p]);
                if (route.Epoch > failedEpoch && (excluded is null || route.Target != failed))
                {
                    routes.Add(p, route);
                    continue;
                }
                lock (_routeLock)
                {
                    if (_failureRevives[p] >= _maxRevivesPerPartition) throw GiveUp(p, failed, error);
                }
                asked.Add((p, _revives.ReviveAsync(new PartitionRef(p, route.Epoch), excluded, forFailure: true)));
            }
            if (asked.Count == 0) return routes;

            try
            {
                // All of them, so no failed answer goes unobserved.
                await Task.WhenAll(asked.Select(a => a.Reply)).ConfigureAwait(false);
            }
            catch (GridException e) when (RetryPolicy.IsRetryableRevive(e.Code) && round < _maxRevivesPerPartition)
            {
                // Also the ShuffleGrain's silo may be the one that failed: give the grid a moment.
                await Task.Delay(RetryPolicy.Backoff(round, RetryPolicy.FirstBackoff, RetryPolicy.MaxBackoff), _abort.Token)
                    .ConfigureAwait(false);
                routes.Clear();
                continue;
            }
            catch (GridException e)
            {
                throw new GridException(e.Code,
                    $"Reviving partitions of a push that failed on silo {failed.Endpoint} ({error.Code}: {error.Message}) failed: {e.Message}", e);
            }
            // The answers are applied already; a route may be newer still.
            foreach (var (p, _) in asked) routes.Add(p, Volatile.Read(ref _routes[p]));
            return routes;
        }
    }

    private GridException GiveUp(int partitionId, SiloPushTarget failed, GridException error) =>
        new(error.Code,
            $"Partition {partitionId} was revived {_maxRevivesPerPartition} times after failed pushes (MaxRevivesPerPartition); " +
            $"the last push, to silo {failed.Endpoint}, failed too: {error.Message}", error);

    /// <summary>Answers of the batcher: a newer epoch replaces the partition's route (older answers are ignored).</summary>
    private void ApplyRevived(PartitionLocation location, bool afterFailure)
    {
        int p = location.PartitionId;
        if ((uint)p >= (uint)_routes.Length) return;
        lock (_routeLock)
        {
            if (location.Epoch <= _routes[p].Epoch) return;
            Volatile.Write(ref _routes[p], new PartitionRoute(location.Epoch, TargetFor(location.Primary)));
            if (afterFailure) _failureRevives[p]++;
        }
        Interlocked.Increment(ref _revived);
    }

    /// <summary>The target of a silo, created on first use. Under <see cref="_routeLock"/> (or in the constructor).</summary>
    private SiloPushTarget TargetFor(SiloEndpoint silo)
    {
        if (_targetBySilo.TryGetValue(silo, out var target)) return target;
        target = new SiloPushTarget(silo, _maxPushesInFlightPerSilo, _pushes);
        _targetBySilo.Add(silo, target);
        Volatile.Write(ref _targets, [.. _targets, target]);
        return target;
    }

    /// <summary>
    /// Partition epochs that crossed the split threshold: later batches should go to a newer epoch.
    /// Nothing is resent (the old epoch stored everything). Skipped once the writer is closing: no
    /// later batches will come.
    /// </summary>
    private void OnSplits(IReadOnlyList<PartitionRef> splits)
    {
        if (Volatile.Read(ref _state) != Open || IsFailed) return;
        foreach (var split in splits)
        {
            if ((uint)split.PartitionId >= (uint)_routes.Length) continue;
            // Only the epoch this writer pushes to now; an older one was left already.
            if (Volatile.Read(ref _routes[split.PartitionId]).Epoch != split.Epoch) continue;
            _work.Enter();
            _ = ReviveForSplitAsync(split);
        }
    }

    private async Task ReviveForSplitAsync(PartitionRef split)
    {
        try
        {
            await _revives.ReviveAsync(split, excludedSilo: null, forFailure: false).ConfigureAwait(false);
        }
        catch (Exception e) when (e is GridException or OperationCanceledException)
        {
            // A split is advice: the old epoch still takes pushes, so a failed revive loses nothing.
        }
        finally
        {
            _work.Exit();
        }
    }

    private bool IsFailed => Volatile.Read(ref _failure) is not null;

    private void Fail(SiloPushTarget target, MergedPush push, Exception error)
    {
        GridException failure;
        if (error is GridException { Code: GridErrorCode.MapEnded } ended)
        {
            failure = new GridException(GridErrorCode.MapEnded,
                $"Map {_mapId} attempt {_attemptId} ({new ShuffleKey(_appId, _shuffleId)}) may not push any more: silo {target.Endpoint} " +
                $"says its partitions are committed, because the map already ended (this or another attempt won it). " +
                $"The writer stopped pushing: {ended.Message}", error);
        }
        else
        {
            var code = error is GridException grid ? grid.Code : GridErrorCode.Internal;
            failure = new GridException(code,
                $"Push of {push.Count} batches of map {_mapId} attempt {_attemptId} ({new ShuffleKey(_appId, _shuffleId)}) to silo {target.Endpoint} failed: {error.Message}",
                error);
        }
        if (Interlocked.CompareExchange(ref _failure, failure, null) is null && failure.Code != GridErrorCode.MapEnded)
            _transport.OnPushFailed(_appId, _shuffleId);
    }

    private void ThrowIfNotWritable()
    {
        ObjectDisposedException.ThrowIf(_state == Disposed, this);
        ThrowIfFailed();
        if (_state != Open) throw new InvalidOperationException("The writer is closed.");
    }

    /// <summary>Rethrows a background push failure; a new exception each time, with the original inside.</summary>
    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } failure) throw new GridException(failure.Code, failure.Message, failure);
    }
}
