using System.Runtime.CompilerServices;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client.Compression;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Reads one partition of a committed shuffle: every committed epoch in order, every non-empty
/// chunk in order, a few chunks fetched ahead. Batches are checksum-verified and filtered by
/// <see cref="BatchDeduplicator"/>, so each record of each winning map attempt is read exactly once.
/// Each epoch is read from its first committed copy; if that fails (silo gone, chunk corrupt or
/// short after the fetch retries, batch count off) the epoch is read again from chunk 0 of the next
/// copy, and the batches already returned are dropped as duplicates. Only when every copy of an
/// epoch fails does the read fail: with UnknownShuffle if the shuffle was unregistered meanwhile,
/// with DataLost otherwise. Each enumeration reads the partition again; the
/// counters add up over enumerations.
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
    private long _failovers;

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

    /// <summary>Times an epoch was read again from another copy because reading a copy failed.</summary>
    public long Failovers => Interlocked.Read(ref _failovers);

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

    /// <summary>The payloads of the batches that pass the filter, decompressed. Each is valid until the next MoveNextAsync.</summary>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadBatchesAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var indexed = await _source.GetFileGroupAsync(_appId, _shuffleId, ct).ConfigureAwait(false);
        var group = indexed.Group;
        if (_partitionId >= group.NumPartitions)
        {
            throw new GridException(GridErrorCode.UnknownPartition,
                $"Partition {_partitionId} does not exist: {new ShuffleKey(_appId, _shuffleId)} has {group.NumPartitions} partitions.");
        }
        if (_startMap >= Math.Min(_endMap, group.NumMaps)) yield break;

        var filter = new BatchDeduplicator(group.WinningAttempts, _startMap, _endMap);
        using var decompressor = new BatchDecompressor();
        foreach (var location in indexed.LocationsOf(_partitionId))
        {
            int epoch = location.Location.Epoch;
            var copies = location.Copies;
            if (copies.Count == 0)
                throw new GridException(GridErrorCode.DataLost, $"Partition {_partitionId} epoch {epoch} of {new ShuffleKey(_appId, _shuffleId)} has no committed copy.");
            List<string>? failures = null;
            // Bounded by the copies of the epoch: each round reads one copy, and the last failure throws.
            for (int c = 0; c < copies.Count; c++)
            {
                var copy = copies[c];
                var plan = ChunkRef.PlanFor(copy, epoch);
                GridException? failure = null;
                long batches = 0;
                bool otherCopyLeft = c < copies.Count - 1;
                var prefetcher = new ChunkPrefetcher(plan, _chunksInFlight, (chunk, token) => Fetch(chunk, otherCopyLeft, token), ct);
                // Disposing cancels and frees the chunks fetched ahead, also those of a copy that failed.
                await using (prefetcher.ConfigureAwait(false))
                {
                    for (int i = 0; i < plan.Count; i++)
                    {
                        FetchedChunk chunk;
                        try
                        {
                            chunk = await prefetcher.NextAsync().ConfigureAwait(false);
                        }
                        catch (GridException e)
                        {
                            failure = e;
                            break;
                        }
                        using (chunk)
                        {
                            Interlocked.Add(ref _bytesFetched, chunk.Length);
                            batches += chunk.BatchCount;
                            int offset = 0;
                            // Bounded: every batch moves the offset forward by at least its header.
                            while (chunk.TryReadBatch(ref offset, out BatchHeader header, out var payload))
                            {
                                switch (filter.Check(header))
                                {
                                    case BatchVerdict.Read:
                                        Interlocked.Increment(ref _batchesRead);
                                        yield return decompressor.Decode(header, payload);
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
                    }
                }

                // A full-range read must find every batch the copy committed; a map-range read is
                // filtered by the silo, so it cannot be checked.
                if (failure is null && IsFullRange && batches != copy.File.BatchCount)
                {
                    failure = new GridException(GridErrorCode.DataLost,
                        $"Partition {_partitionId} epoch {epoch} on silo {copy.Silo.Endpoint} was committed with {copy.File.BatchCount} batches, " +
                        $"but its chunks hold {batches}.");
                }
                if (failure is null) break;

                (failures ??= []).Add($"{copy.Silo.Identity} at {copy.Silo.Endpoint}: {failure.Code}: {failure.Message}");
                if (c == copies.Count - 1)
                {
                    // Every copy failed. A shuffle that another client unregistered meanwhile fails the
                    // same way (its files are gone): the ShuffleGrain says which it is, so a deleted
                    // shuffle reads as UnknownShuffle, never as lost data.
                    await _source.ConfirmShuffleAsync(_appId, _shuffleId, ct).ConfigureAwait(false);
                    throw new GridException(GridErrorCode.DataLost,
                        $"Partition {_partitionId} epoch {epoch} of {new ShuffleKey(_appId, _shuffleId)} could not be read from any of its " +
                        $"{copies.Count} committed copies: {string.Join("; ", failures)}", failure);
                }
                Interlocked.Increment(ref _failovers);
            }
        }
    }

    private bool IsFullRange => _startMap <= 0 && _endMap == int.MaxValue;

    private Task<FetchedChunk> Fetch(ChunkRef chunk, bool otherCopyLeft, CancellationToken cancellationToken)
    {
        var request = new FetchChunk(_appId, _shuffleId, _partitionId, chunk.Epoch, chunk.ChunkIndex, _startMap, _endMap);
        return ChunkFetcher.FetchAsync(_source, request, chunk, otherCopyLeft, cancellationToken);
    }
}
