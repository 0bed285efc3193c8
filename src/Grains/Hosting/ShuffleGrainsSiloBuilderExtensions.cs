using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Grains.Storage;

namespace Orleans.Shuffle.Grains.Hosting;

/// <summary>Adds the shuffle grid's grains to an Orleans silo.</summary>
public static class ShuffleGrainsSiloBuilderExtensions
{
    /// <summary>
    /// Registers what the ShuffleGrain and the PartitionGrain need on a storage silo: this silo's
    /// partition catalog (disks from <see cref="StorageOptions"/>) and the check of its disks, the
    /// cluster secret's checks (<see cref="Security.ClusterKey"/>, from <see cref="Security.GridSecurityOptions"/>), the slot-aware placement
    /// director with the per-silo slot report service it asks, and the grid clock. The host adds the
    /// rest: the grain storage named <see cref="Shuffle.ShuffleGrain.StorageName"/>, a reminder table,
    /// and the data endpoint (<see cref="ILocalDataEndpoint"/>).
    /// </summary>
    public static ISiloBuilder AddShuffleGrains(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddOptions<StorageOptions>();
        services.AddOptions<SlotPlacementOptions>();
        services.AddOptions<Shuffle.ApplicationOptions>();
        services.AddOptions<Security.GridSecurityOptions>();
        services.AddSingleton<Security.ClusterKey>();
        services.TryAddKeyedSingleton(GridClock.ServiceKey, TimeProvider.System);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new PartitionCatalog(sp.GetRequiredService<IOptions<StorageOptions>>().Value));
        services.AddHostedService<DiskHealthMonitor>();
        silo.AddGrainService<StorageSiloService>();
        services.AddSingleton<IStorageSiloServiceClient, StorageSiloServiceClient>();
        services.AddSingleton<SlotReportCache>();
        services.AddPlacementDirector<SlotAwarePlacement, SlotAwarePlacementDirector>();
        return silo;
    }
}
