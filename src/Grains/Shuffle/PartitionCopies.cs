using Orleans.Runtime;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>
/// The ShuffleGrain's calls to the PartitionGrains of one application: placing an epoch (its
/// replica, then its primary naming the replica), committing and deleting copies. Calls to copies on
/// silos membership already declared Dead are not made: a call would only activate an empty copy
/// elsewhere. At most <see cref="ApplicationOptions.MaxPartitionCallsInFlight"/> calls run at once.
/// </summary>
internal sealed class PartitionCopies(IGrainFactory grains, IClusterMembershipService membership, Security.ClusterKey clusterKey, string appId, int maxInFlight)
{
    /// <summary>The application's data-plane key, handed to every copy reserved (null until the application is registered).</summary>
    public byte[]? ApplicationKey { get; set; }

    /// <summary>Tries of one partition's placement; each failed try abandons its epoch and places the next one.</summary>
    public const int PlacementTries = 4;

    private readonly SemaphoreSlim _inFlight = new(maxInFlight, maxInFlight);

    // One instance per silo, so a large state serializes each silo once (Orleans tracks references).
    private readonly Dictionary<string, SiloEndpoint> _silos = new(StringComparer.Ordinal);

    /// <summary>
    /// Places a new epoch of <paramref name="partitionId"/>: a replica first (unless
    /// <paramref name="replicate"/> is false), then the primary on another silo, naming the replica.
    /// A try that fails abandons its epoch (recorded in <paramref name="abandoned"/>; a replica it
    /// reserved is deleted, a copy that failed to reserve deactivates itself) and the next try places
    /// the next epoch.
    /// </summary>
    public async Task<PartitionLocation> PlaceAsync(
        int shuffleId, int partitionId, int firstEpoch, bool replicate, IReadOnlyCollection<string> excludedSilos, List<PartitionRef> abandoned)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < PlacementTries; attempt++)
        {
            var key = new PartitionKey(appId, shuffleId, partitionId, firstEpoch + attempt);
            SiloEndpoint? replica = null;
            try
            {
                // A retry asks the silos for their slots afresh: the estimate placed the last try where there was no slot.
                bool fresh = attempt > 0;
                if (replicate) replica = await ReserveAsync(key, PartitionGrainKey.ReplicaCopy, null, excludedSilos, peerSilo: null, fresh).ConfigureAwait(true);
                var primary = await ReserveAsync(key, PartitionGrainKey.PrimaryCopy, replica, excludedSilos, replica?.Identity, fresh).ConfigureAwait(true);
                return new PartitionLocation(partitionId, key.Epoch, primary, replica);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                last = e;
                abandoned.Add(key.Ref());
                if (replica is not null) _ = DestroyCopyAsync(key, PartitionGrainKey.ReplicaCopy, replica);
            }
        }
        var code = last is GridException { Code: var c } ? c : GridErrorCode.NoSlots;
        throw new GridException(code,
            $"Could not place partition {partitionId} of {appId}/{shuffleId} in {PlacementTries} tries: {Describe(last)}", last);
    }

    /// <summary>Commits one copy; the error says why a copy did not commit (its silo is dead, its disk failed, it was never reserved).</summary>
    public async Task<(CommittedFile? File, string? Error)> CommitAsync(PartitionKey key, int copy, SiloEndpoint silo)
    {
        if (IsDead(silo)) return (null, $"silo {silo.Name} is dead");
        // Commit is idempotent: a copy whose call was lost on the way (a busy silo timed out, a message
        // rejected while the directory moved) is asked again, a few times, while its silo is not dead.
        const int Tries = 3;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var file = await PlacementRequest.AtAsync(silo.Identity, () => CallAsync(key, copy, grain => grain.Commit())).ConfigureAwait(true);
                file.Validate();
                return (file, null);
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException && attempt < Tries && !IsDead(silo))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt)).ConfigureAwait(true);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return (null, Describe(e));
            }
        }
    }

    /// <summary>Deletes the copies of a placed epoch, best effort: copies on dead silos went with them, and a failure is returned, not thrown.</summary>
    public async Task<Exception?> DestroyAsync(int shuffleId, PartitionLocation location)
    {
        var key = new PartitionKey(appId, shuffleId, location.PartitionId, location.Epoch);
        var errors = await Task.WhenAll(
            IsDead(location.Primary) ? Task.FromResult<Exception?>(null) : DestroyCopyAsync(key, PartitionGrainKey.PrimaryCopy, location.Primary),
            location.Replica is { } replica && !IsDead(replica) ? DestroyCopyAsync(key, PartitionGrainKey.ReplicaCopy, replica) : Task.FromResult<Exception?>(null))
            .ConfigureAwait(true);
        return errors.FirstOrDefault(e => e is not null);
    }

    private async Task<Exception?> DestroyCopyAsync(PartitionKey key, int copy, SiloEndpoint silo)
    {
        try
        {
            await PlacementRequest.AtAsync(silo.Identity, () => CallAsync(key, copy, async grain =>
            {
                await grain.Destroy().ConfigureAwait(true);
                return true;
            })).ConfigureAwait(true);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    public bool IsDead(SiloEndpoint silo) =>
        TryParse(silo.Identity) is { } address && membership.CurrentSnapshot.GetSiloStatus(address) == SiloStatus.Dead;

    private async Task<SiloEndpoint> ReserveAsync(PartitionKey key, int copy, SiloEndpoint? replica, IReadOnlyCollection<string> excluded, string? peerSilo, bool fresh)
    {
        var silo = await PlacementRequest.WithAsync(excluded, peerSilo, fresh, () => CallAsync(key, copy, grain => grain.Reserve(replica, ApplicationKey))).ConfigureAwait(true);
        return Intern(silo);
    }

    private async Task<T> CallAsync<T>(PartitionKey key, int copy, Func<IPartitionGrain, Task<T>> call)
    {
        await _inFlight.WaitAsync().ConfigureAwait(true);
        try
        {
            using var member = clusterKey.AttachMemberToken();
            return await call(grains.GetGrain<IPartitionGrain>(new PartitionGrainKey(key, copy).Format())).ConfigureAwait(true);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private SiloEndpoint Intern(SiloEndpoint silo)
    {
        if (_silos.TryGetValue(silo.Identity, out var known) && known == silo) return known;
        _silos[silo.Identity] = silo;
        return silo;
    }

    private static SiloAddress? TryParse(string identity)
    {
        try
        {
            return SiloAddress.FromParsableString(identity);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    internal static string Describe(Exception? e) => e switch
    {
        null => "no reason given",
        GridException grid => $"{grid.Code}: {grid.Message}",
        _ => $"{e.GetType().Name}: {e.Message}",
    };
}
