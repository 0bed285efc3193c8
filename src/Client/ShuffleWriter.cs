using System.Buffers;
using System.Buffers.Binary;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Writes the output of one map attempt. Records are copied into a pooled buffer per partition; a
/// full buffer is sealed into a batch, batches bound for one silo are merged into one PushData,
/// and at most MaxPushesInFlightPerSilo pushes per silo are in flight, so a slow silo slows the
/// writer instead of growing its memory. Writes are meant for one thread (a map task); pushes run
/// in the background, and a push that fails for good fails the next write, flush or close.
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
    private readonly int _pushRetries;
    private readonly int[] _epochs;
    private readonly SiloPushTarget[] _targetOfPartition;
    private readonly SiloPushTarget[] _targets;
    private readonly byte[]?[] _buffers;
    private readonly int[] _used;
    private readonly int[] _nextBatchId;
    private readonly BufferRecycler _recycler;

    // Cancels pushes when the writer is abandoned. Never disposed: a push still running reads its token.
    private readonly CancellationTokenSource _abort = new();
    private GridException? _failure;
    private int _state;
    private long _recordsWritten;
    private long _bytesWritten;
    private long _batchesPushed;
    private long _pushRequests;

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
        _pushRetries = options.PushRetries;

        // The recycler keeps about as many buffers as can be in flight: what comes back from a
        // push is taken again by the next sealed partition.
        int silos = locations.Select(l => (l.Host, l.Port)).Distinct().Count();
        long inFlightBuffers = (long)silos * options.MaxPushesInFlightPerSilo * (options.MergedPushBytes / options.PushBufferBytes + 1);
        _recycler = new BufferRecycler(EntryPrefixBytes + _payloadCapacity, (int)Math.Min(inFlightBuffers, MaxRecycledBuffers));

        int partitions = locations.Count;
        _epochs = new int[partitions];
        _targetOfPartition = new SiloPushTarget[partitions];
        _buffers = new byte[]?[partitions];
        _used = new int[partitions];
        _nextBatchId = new int[partitions];
        var byEndpoint = new Dictionary<(string Host, int Port), SiloPushTarget>();
        for (int p = 0; p < partitions; p++)
        {
            var location = locations[p];
            if (location.PartitionId != p)
                throw new ArgumentException($"Location {p} is for partition {location.PartitionId}.", nameof(locations));
            _epochs[p] = location.Epoch;
            if (!byEndpoint.TryGetValue((location.Host, location.Port), out var target))
            {
                target = new SiloPushTarget(location.Host, location.Port, options.MaxPushesInFlightPerSilo, _recycler);
                byEndpoint.Add((location.Host, location.Port), target);
            }
            _targetOfPartition[p] = target;
        }
        _targets = [.. byEndpoint.Values];
    }

    public long RecordsWritten => Interlocked.Read(ref _recordsWritten);

    /// <summary>Bytes of the records themselves, without framing or headers.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Batches the silos acknowledged.</summary>
    public long BatchesPushed => Interlocked.Read(ref _batchesPushed);

    /// <summary>PushData requests sent, retries included.</summary>
    public long PushRequests => Interlocked.Read(ref _pushRequests);

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
        foreach (var target in _targets) await SendReadyAsync(target, ct).ConfigureAwait(false);
        ThrowIfFailed();
    }

    /// <summary>
    /// Seals every buffer, pushes everything, waits for every push and sends MapperEnd. The reply
    /// says whether this attempt won its map. Dispose the writer afterwards, also after a failure.
    /// </summary>
    public async Task<MapperEndReply> CloseAsync(CancellationToken ct = default)
    {
        ThrowIfNotWritable();
        _state = Closing;
        for (int p = 0; p < _buffers.Length; p++)
        {
            if (_used[p] == 0) continue;
            var target = _targetOfPartition[p];
            if (target.ReadyCount > 0) await SendReadyAsync(target, ct).ConfigureAwait(false);
            Seal(p);
            DispatchReady(target);
        }
        foreach (var target in _targets)
        {
            target.SealFilling();
            await SendReadyAsync(target, ct).ConfigureAwait(false);
        }
        foreach (var target in _targets) await target.WaitForInFlightAsync(ct).ConfigureAwait(false);
        ThrowIfFailed();

        var reply = await _transport.MapperEndAsync(new MapperEnd(_appId, _shuffleId, _mapId, _attemptId), ct)
            .ConfigureAwait(false);
        _state = Closed;
        return reply;
    }

    /// <summary>Without a successful <see cref="CloseAsync"/> this abandons the attempt: pushes in flight are cancelled and no MapperEnd is sent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_state == Disposed) return;
        _state = Disposed;
        _abort.Cancel();
        using (var giveUp = new CancellationTokenSource(AbandonWait))
        {
            foreach (var target in _targets)
            {
                try
                {
                    await target.WaitForInFlightAsync(giveUp.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // A push is stuck in a socket write; see AbandonWait.
                }
                target.DiscardUnsent();
            }
        }
        for (int p = 0; p < _buffers.Length; p++)
        {
            var buffer = _buffers[p];
            if (buffer is null) continue;
            _buffers[p] = null;
            _used[p] = 0;
            _recycler.Return(buffer);
        }
        _recycler.Clear();
    }

    private async ValueTask WriteAfterFlushAsync(int partitionId, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
    {
        // After a flush the silo has no push waiting for a slot, so the write is accepted; the
        // second round only covers a flush that raced with nothing (it cannot, but stay bounded).
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

        var target = _targetOfPartition[partitionId];
        bool seals = oversized || _used[partitionId] > 0;
        if (seals)
        {
            // A new batch for this silo is accepted only when no full push waits for a slot: that
            // is what bounds the writer's memory when the silo is slow.
            DispatchReady(target);
            if (target.ReadyCount > 0) return false;
        }

        if (_used[partitionId] > 0) Seal(partitionId);
        if (oversized)
        {
            // The record is a batch of its own, in an array sized for it.
            int payloadLength = RecordFraming.PrefixBytes + record.Length;
            var single = ArrayPool<byte>.Shared.Rent(EntryPrefixBytes + payloadLength);
            RecordFraming.Write(single.AsSpan(EntryPrefixBytes), record);
            SealBuffer(partitionId, single, payloadLength);
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

    private void Seal(int partitionId)
    {
        var buffer = _buffers[partitionId]!;
        int payloadLength = _used[partitionId];
        _buffers[partitionId] = null;
        _used[partitionId] = 0;
        SealBuffer(partitionId, buffer, payloadLength);
    }

    /// <summary>Fills in the entry and batch headers in front of the payload and hands the batch to its silo.</summary>
    private void SealBuffer(int partitionId, byte[] buffer, int payloadLength)
    {
        int batchId = _nextBatchId[partitionId]++;
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, partitionId);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], _epochs[partitionId]);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], BatchHeader.Size + payloadLength);
        BatchHeader.Write(span.Slice(PushData.EntryHeaderBytes, BatchHeader.Size), _mapId, _attemptId, batchId,
            span.Slice(EntryPrefixBytes, payloadLength));
        _targetOfPartition[partitionId].Add(new SealedBatch(buffer, EntryPrefixBytes + payloadLength), _mergedPushBytes);
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
    private void StartPush(SiloPushTarget target, MergedPush push) =>
        _ = Task.Run(() => PushAsync(target, push), CancellationToken.None);

    private async Task PushAsync(SiloPushTarget target, MergedPush push)
    {
        try
        {
            var body = push.ToBody(_appId, _shuffleId);
            for (int attempt = 0; attempt <= _pushRetries; attempt++)
            {
                // Once the writer failed its attempt is lost anyway; do not make the silo store more of it.
                if (Volatile.Read(ref _failure) is not null) return;
                try
                {
                    Interlocked.Increment(ref _pushRequests);
                    await _transport.PushAsync(target.Host, target.Port, body, _abort.Token).ConfigureAwait(false);
                    Interlocked.Add(ref _batchesPushed, push.Count);
                    return;
                }
                catch (GridException e) when (attempt < _pushRetries && RetryPolicy.IsRetryablePush(e.Code))
                {
                    await Task.Delay(RetryPolicy.Backoff(attempt, RetryPolicy.FirstBackoff, RetryPolicy.MaxBackoff), _abort.Token)
                        .ConfigureAwait(false);
                }
            }
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
            push.Dispose();
            target.Slots.Release();
        }
    }

    private void Fail(SiloPushTarget target, MergedPush push, Exception error)
    {
        var code = error is GridException grid ? grid.Code : ErrorCode.Internal;
        var failure = new GridException(code,
            $"Push of {push.Count} batches of map {_mapId} attempt {_attemptId} ({new ShuffleKey(_appId, _shuffleId)}) to silo {target.Endpoint} failed: {error.Message}",
            error);
        if (Interlocked.CompareExchange(ref _failure, failure, null) is null) _transport.OnPushFailed(_appId, _shuffleId);
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
