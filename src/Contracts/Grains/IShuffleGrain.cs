using Orleans.Concurrency;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.GrainInterfaces;

/// <summary>
/// The lifecycle manager of one application (the grain key is the application id), like Celeborn's
/// LifecycleManager but a virtual actor on the storage silos instead of a part of the driver. The
/// driver registers the application and its shuffles and heartbeats; executors ask where to push,
/// revive partitions whose pushes failed, report map ends and read file groups. Every request is
/// idempotent, so a caller may repeat one whose answer it lost. Errors are
/// <see cref="Wire.GridException"/>s with a code and a message that says what to do.
/// </summary>
public interface IShuffleGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the application's state and its expiry reminder, keeping <paramref name="secret"/>
    /// (made by the driver, <see cref="Security.ApplicationSecret.Create"/>): every later call of the
    /// application proves it. Idempotent with the same secret; an application registered with another
    /// secret is refused with Unauthorized.
    /// </summary>
    Task RegisterApplication(Security.ApplicationSecret secret);

    /// <summary>The driver is alive. An application silent for Applications:HeartbeatTtl has its data deleted.</summary>
    Task Heartbeat();

    /// <summary>Deletes every shuffle of the application, its state and its reminder. Idempotent.</summary>
    Task UnregisterApplication();

    /// <summary>
    /// The driver registers a shuffle: the first call places every partition (a primary and, with
    /// replicas 2, a replica on another silo); later calls with the same spec return the current
    /// locations; another spec is refused with ShuffleMismatch.
    /// </summary>
    Task<ShuffleLocations> RegisterShuffle(int shuffleId, ShuffleSpec spec);

    /// <summary>Where a writer pushes now: the newest epoch of every partition. UnknownShuffle if the driver has not registered it.</summary>
    Task<ShuffleLocations> GetShuffleLocations(int shuffleId);

    /// <summary>
    /// A newer epoch of each partition epoch asked for (its pushes failed, or its silo asked for a
    /// split), placed on none of <paramref name="excludedSilos"/> (silo identities). A partition already
    /// revived past the epoch asked gets its current location, so writers that saw the same failure
    /// share one new epoch. One location per partition asked, in no particular order.
    /// </summary>
    Task<IReadOnlyList<PartitionLocation>> Revive(int shuffleId, IReadOnlyList<PartitionRef> partitions, IReadOnlyList<string> excludedSilos);

    /// <summary>A map attempt pushed everything. The first attempt of a map to end wins; when every map has ended the shuffle commits.</summary>
    Task<MapperEndReply> MapperEnd(int shuffleId, int mapId, int attemptId);

    /// <summary>
    /// The committed file group. Before the shuffle commits this waits for the commit, at most
    /// <paramref name="maxWait"/> and the silo's Applications:MaxCommitWait (30 s by default, 5 min at
    /// most), then NotCommitted; or until cancelled. It holds nothing of the grain while it waits. A
    /// caller that wants to wait longer asks again: so a wait never outlives a lost silo by much (an
    /// Orleans client is not told that the silo hosting a grain it waits on died). DataLost if some
    /// partition epoch has no committed copy.
    /// </summary>
    [AlwaysInterleave]
    [ResponseTimeout("00:06:00")]
    Task<ReducerFileGroup> GetReducerFileGroup(int shuffleId, TimeSpan maxWait, CancellationToken cancellationToken = default);

    /// <summary>Deletes a shuffle's partitions on every silo and forgets it. Idempotent.</summary>
    Task UnregisterShuffle(int shuffleId);

    /// <summary>The application as people read it: where its grain runs, its shuffles.</summary>
    [AlwaysInterleave]
    Task<ApplicationSummary> Describe();

    /// <summary>
    /// Commits every copy of every partition epoch of a shuffle whose maps have all ended. The grain
    /// sends this to itself after the last MapperEnd and after a re-activation that finds a commit
    /// unfinished; it does nothing for a shuffle that is committed or still has maps running.
    /// </summary>
    [OneWay]
    Task CommitShuffle(int shuffleId);
}
