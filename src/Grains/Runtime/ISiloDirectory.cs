using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Grains.Runtime;

/// <summary>
/// What the ShuffleGrain needs from its silo: the active silos with their free slots, and calls to
/// the PartitionGrains on any silo (itself included). The silo implements it over the membership
/// view and silo-to-silo connections.
/// </summary>
public interface ISiloDirectory
{
    /// <summary>The silo this grain runs on.</summary>
    SiloInfo Self { get; }

    /// <summary>Active silos with fresh slot counts, for placement.</summary>
    Task<IReadOnlyList<SiloInfo>> GetActiveSilosWithLoadAsync(CancellationToken cancellationToken);

    Task ReservePartitionsAsync(SiloEndpoint silo, ReservePartitions partitions, CancellationToken cancellationToken);

    Task<CommitReply> CommitPartitionsAsync(SiloEndpoint silo, PartitionRefs partitions, CancellationToken cancellationToken);

    Task DestroyShuffleAsync(SiloEndpoint silo, string appId, int shuffleId, CancellationToken cancellationToken);
}
