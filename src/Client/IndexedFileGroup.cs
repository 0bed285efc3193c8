using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A committed file group with its locations grouped by partition and ordered by epoch, built once
/// per shuffle per process. <see cref="ReducerFileGroup.LocationsOf"/> scans every location, which
/// would make a process that reads many partitions quadratic.
/// </summary>
internal sealed class IndexedFileGroup
{
    private readonly ILookup<int, CommittedLocation> _byPartition;

    public IndexedFileGroup(ReducerFileGroup group)
    {
        Group = group;
        _byPartition = group.Locations.OrderBy(l => l.Location.Epoch).ToLookup(l => l.Location.PartitionId);
    }

    public ReducerFileGroup Group { get; }

    /// <summary>Committed epochs of the partition, in epoch order.</summary>
    public IEnumerable<CommittedLocation> LocationsOf(int partitionId) => _byPartition[partitionId];
}
