namespace Orleans.Shuffle.Model;

/// <summary>One committed copy of a partition epoch: the silo that holds it and what it committed.</summary>
[GenerateSerializer, Immutable]
public sealed record CommittedCopy(SiloEndpoint Silo, CommittedFile File);

/// <summary>
/// A committed partition epoch and the copies to read it from, primary first. Copies hold the same
/// batches but may order them differently, so a reader that switches copies starts the epoch again
/// and drops the batches it already returned.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record CommittedLocation(PartitionLocation Location, IReadOnlyList<CommittedCopy> Copies);

/// <summary>
/// What reducers read by: the winning attempt of every map (-1: the map never ended) and every
/// committed location, so a reducer reads each partition exactly once.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ReducerFileGroup(int NumMaps, int NumPartitions, int[] WinningAttempts, IReadOnlyList<CommittedLocation> Locations)
{
    public IEnumerable<CommittedLocation> LocationsOf(int partitionId) => Locations.Where(l => l.Location.PartitionId == partitionId);
}
