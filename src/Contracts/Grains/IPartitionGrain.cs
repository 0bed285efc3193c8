using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.GrainInterfaces;

/// <summary>
/// One copy of one partition epoch: key "{appId}/{shuffleId}/{partitionId}/{epoch}/{copy}" (copy 0
/// is the primary, 1 the replica). Placed by the slot-aware placement director on the storage silo
/// with the most free slots (a replica never on its primary's silo); the activation owns the
/// partition file on that silo's disk and stays active while its shuffle lives. Bytes never go
/// through it: pushes, replication and fetches use the silo's data endpoint (docs/protocol.md).
/// Only silos call it (the ShuffleGrain, a silo's sweep), with a member token of the cluster secret;
/// any other call is refused with Unauthorized.
/// </summary>
public interface IPartitionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Takes a slot on this silo's least used disk and opens the partition file. Returns this silo's
    /// data endpoint. A primary (copy 0) names its replica's silo, where it forwards every batch; a
    /// replica (copy 1) names none. <paramref name="applicationKey"/> is the application's data-plane
    /// key, which its data connections to this silo prove. Idempotent.
    /// </summary>
    Task<SiloEndpoint> Reserve(SiloEndpoint? replica, byte[]? applicationKey);

    /// <summary>
    /// Flushes and closes the file and describes it; later pushes get MapEnded. Idempotent.
    /// UnknownPartition if this activation was never reserved (its silo died and took the file).
    /// </summary>
    Task<CommittedFile> Commit();

    /// <summary>Deletes the file, frees the slot and deactivates. Idempotent.</summary>
    Task Destroy();
}
