using System.Runtime.CompilerServices;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Reads one partition of a committed shuffle: every committed epoch in order, every non-empty
/// chunk in order, a few chunks fetched ahead. Batches are checksum-verified and filtered by
/// <see cref="BatchDeduplicator"/>, so each record of each winning map attempt is read exactly once.
/// Each enumeration reads the partition again; the counters add up over enumerations.
/// </summary>
public sealed class ShuffleReader
{
    private readonly IChunkSource _source;
    private readonly string _appId;
    private readonly int _shuffleId;
    private readonly int _partitionId;
    private readonly int _startMap;
    private readonly int _endMap;
    private readonly int _chunksInFlight;
    private long _batchesRead;
    private long _duplicateBatchesSkipped;
    private long _losingAttemptBatchesSkipped;
    private long _bytesFetched;

    internal ShuffleReader(IChunkSource source, string appId, int shuffleId, int partitionId, int startMap, int endMap, int chunksInFlight)
    {
        _source = source;
        _appId = appId;
        _shuffleId = shuffleId;
        _partitionId = partitionId;
        _startMap = startMap;
        _endMap = endMap;
        _chunksInFlight = chunksInFlight;
    }

    public long BatchesRead => Interlocked.Read(ref _batchesRead);

    public long DuplicateBatchesSkipped => Interlocked.Read(ref _duplicateBatchesSkipped);

    public long LosingAttemptBatchesSkipped => Interlocked.Read(ref _losingAttemptBatchesSkipped);

    /// <summary>Bytes of every fetched chunk, batch headers and skipped batches included.</summary>
    public long BytesFetched => Interlocked.Read(ref _bytesFetched);

    /// <summary>The records of the partition. Each record is valid until the next MoveNextAsync.</summary>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadRecordsAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var payload in ReadBatchesAsync(ct).ConfigureAwait(false))
        {
            int offset = 0;
            // Bounded: every record moves the offset forward by at least its length prefix.
            while (RecordFraming.TryReadNext(payload, ref offset, out var record))
            {
                yield return record;
            }
        }
    }

    /// <summary>The payloads of the batches that pass the filter. Each is valid until the next MoveNextAsync.</summary>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadBatchesAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var indexed = await _source.GetFileGroupAsync(_appId, _shuffleId, ct).ConfigureAwait(false);
        var group = indexed.Group;
        if (_partitionId >= group.NumPartitions)
        {
            throw new GridException(ErrorCode.UnknownPartition,
                $"Partition {_partitionId} does not exist: {new ShuffleKey(_appId, _shuffleId)} has {group.NumPartitions} partitions.");
        }
        if (_startMap >= Math.Min(_endMap, group.NumMaps)) yield break;

        var filter = new BatchDeduplicator(group.WinningAttempts, _startMap, _endMap);
        var plan = ChunkRef.PlanFor(indexed, _partitionId);
        var prefetcher = new ChunkPrefetcher(plan, _chunksInFlight, Fetch, ct);
        await using (prefetcher.ConfigureAwait(false))
        {
            var integrity = new EpochBatchCounter(IsFullRange);
            for (int i = 0; i < plan.Count; i++)
            {
                using var chunk = await prefetcher.NextAsync().ConfigureAwait(false);
                Interlocked.Add(ref _bytesFetched, chunk.Length);
                integrity.Add(plan[i].Location, chunk.BatchCount);

                int offset = 0;
                // Bounded: every batch moves the offset forward by at least its header.
                while (chunk.TryReadBatch(ref offset, out BatchHeader header, out var payload))
                {
                    switch (filter.Check(header))
                    {
                        case BatchVerdict.Read:
                            Interlocked.Increment(ref _batchesRead);
                            yield return payload;
                            break;
                        case BatchVerdict.Duplicate:
                            Interlocked.Increment(ref _duplicateBatchesSkipped);
                            break;
                        case BatchVerdict.LosingAttempt:
                            Interlocked.Increment(ref _losingAttemptBatchesSkipped);
                            break;
                        case BatchVerdict.OutOfRange:
                            // The silo filters by map range already; this only guards against one that did not.
                            break;
                    }
                }
            }
            integrity.Finish();
        }
    }

    private bool IsFullRange => _startMap <= 0 && _endMap == int.MaxValue;

    private Task<FetchedChunk> Fetch(ChunkRef chunk, CancellationToken cancellationToken)
    {
        var location = chunk.Location.Location;
        var request = new FetchChunk(_appId, _shuffleId, _partitionId, location.Epoch, chunk.ChunkIndex, _startMap, _endMap);
        return ChunkFetcher.FetchAsync(_source, request, chunk, cancellationToken);
    }
}
