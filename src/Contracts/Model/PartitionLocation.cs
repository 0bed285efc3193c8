namespace Orleans.Shuffle.Model;

/// <summary>
/// Where one epoch of a partition lives: the silo of its primary PartitionGrain, which takes pushes,
/// and the silo of its replica, which the primary forwards every batch to (none when replicas = 1).
/// </summary>
[GenerateSerializer, Immutable]
public readonly record struct PartitionLocation(int PartitionId, int Epoch, SiloEndpoint Primary, SiloEndpoint? Replica = null)
{
    public PartitionRef Ref => new(PartitionId, Epoch);

    /// <summary>The copies of this epoch, primary first.</summary>
    public IEnumerable<SiloEndpoint> Copies => Replica is null ? [Primary] : [Primary, Replica];
}
