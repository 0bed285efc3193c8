using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.Services;
using Orleans.Services;
using Orleans.Shuffle.Grains.Partition;

namespace Orleans.Shuffle.Grains.Placement;

/// <summary>
/// A storage silo's own service (an Orleans GrainService: one instance per silo): placement directors
/// ask it for the silo's slots, and a ShuffleGrain deleting an application or a shuffle sweeps every
/// silo with it.
/// </summary>
public interface IStorageSiloService : IGrainService
{
    Task<SlotReport> GetSlotReport();

    /// <summary>
    /// Deletes every partition copy of the application this silo hosts (of one shuffle, when
    /// <paramref name="shuffleId"/> is given); returns how many there were.
    /// </summary>
    Task<int> DeleteCopies(string appId, int? shuffleId);
}

/// <summary>Answers for this silo's <see cref="PartitionCatalog"/>.</summary>
internal sealed class StorageSiloService(
    GrainId id, Silo silo, ILoggerFactory loggerFactory, PartitionCatalog catalog, IGrainFactory grains, IOptions<SlotPlacementOptions> options,
    Security.ClusterKey clusterKey)
    : GrainService(id, silo, loggerFactory), IStorageSiloService
{
    public Task<SlotReport> GetSlotReport() => Task.FromResult(new SlotReport(catalog.TotalSlots, catalog.FreeSlots, options.Value.FaultZone));

    /// <summary>
    /// Each copy is deleted through its grain (on this silo, by the placement hint), so the activation
    /// goes too, then from the catalog directly: a copy whose grain call failed (its activation is
    /// elsewhere, a duplicate after a directory loss) still loses its file here.
    /// </summary>
    public async Task<int> DeleteCopies(string appId, int? shuffleId)
    {
        // A grain service can be named by any Orleans client: deleting is for member silos only.
        if (clusterKey.CheckMember() is { } why)
            throw new Wire.GridException(Wire.GridErrorCode.Unauthorized, $"Deleting copies is for member silos only: {why}.");
        Ids.IdValidator.ValidateAppId(appId);
        string self = Silo.ToParsableString();
        var copies = catalog.All.Where(p => p.Key.AppId == appId && (shuffleId is null || p.Key.ShuffleId == shuffleId)).ToList();
        await Task.WhenAll(copies.Select(async copy =>
        {
            var key = new PartitionGrainKey(copy.Key, copy.Role == Model.PartitionRole.Primary ? PartitionGrainKey.PrimaryCopy : PartitionGrainKey.ReplicaCopy);
            try
            {
                await PlacementRequest.AtAsync(self, async () =>
                {
                    using var member = clusterKey.AttachMemberToken();
                    await grains.GetGrain<GrainInterfaces.IPartitionGrain>(key.Format()).Destroy().ConfigureAwait(true);
                    return true;
                }).ConfigureAwait(true);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The catalog delete below is what counts.
            }
            await catalog.DestroyAsync(copy.Key).ConfigureAwait(true);
        })).ConfigureAwait(true);
        return copies.Count;
    }
}

/// <summary>Calls the <see cref="IStorageSiloService"/> of a given silo.</summary>
internal interface IStorageSiloServiceClient : IGrainServiceClient<IStorageSiloService>
{
    Task<SlotReport> GetSlotReport(SiloAddress silo);

    Task<int> DeleteCopies(SiloAddress silo, string appId, int? shuffleId);
}

internal sealed class StorageSiloServiceClient(IServiceProvider services) : GrainServiceClient<IStorageSiloService>(services), IStorageSiloServiceClient
{
    public Task<SlotReport> GetSlotReport(SiloAddress silo) => GetGrainService(silo).GetSlotReport();

    /// <summary>The caller attaches a member token (<see cref="Security.ClusterKey.AttachMemberToken"/>): the service refuses calls without one.</summary>
    public Task<int> DeleteCopies(SiloAddress silo, string appId, int? shuffleId) => GetGrainService(silo).DeleteCopies(appId, shuffleId);
}
