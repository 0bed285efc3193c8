using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Counts the batches read from each committed epoch and, for a full-range read, checks them
/// against the count the silo recorded at commit: a chunk that lost batches fails the read
/// instead of silently returning less data. A map-range read is filtered by the silo, so it is
/// not checked. Chunks of one epoch arrive together, in plan order.
/// </summary>
internal sealed class EpochBatchCounter(bool check)
{
    private CommittedLocation? _current;
    private long _count;

    public void Add(CommittedLocation location, int batches)
    {
        if (!ReferenceEquals(location, _current))
        {
            Finish();
            _current = location;
            _count = 0;
        }
        _count += batches;
    }

    /// <summary>Checks the epoch being counted; call once more after the last chunk.</summary>
    public void Finish()
    {
        if (!check || _current is null) return;
        if (_count != _current.File.BatchCount)
        {
            var location = _current.Location;
            throw new GridException(ErrorCode.DataLost,
                $"Partition {location.PartitionId} epoch {location.Epoch} on silo {location.Host}:{location.Port} " +
                $"was committed with {_current.File.BatchCount} batches, but its chunks hold {_count}.");
        }
        _current = null;
    }
}
