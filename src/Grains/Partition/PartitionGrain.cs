using Microsoft.Extensions.Logging;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Grains.Security;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>
/// One copy of one partition epoch, on the storage silo the slot-aware director chose. It owns the
/// copy's file in this silo's <see cref="PartitionCatalog"/> from Reserve to Destroy, and is kept
/// from idle collection while the file exists (an idle partition's file is still needed until its
/// shuffle ends). The file belongs to the silo, not to the activation: an activation that ends for
/// another reason (Orleans resolving a duplicate after a silo's directory partition was lost, or the
/// silo stopping) leaves it, and an activation started again on this silo (every call after Reserve
/// names this silo, see <see cref="PlacementRequest"/>) takes it up. The catalog is asked on every
/// call, so a copy deleted by a sweep is seen as gone. It holds no state in storage: an activation
/// with no file here is a copy whose silo died, and says so instead of committing an empty file.
/// </summary>
[SlotAwarePlacement]
internal sealed class PartitionGrain(PartitionCatalog catalog, ILocalDataEndpoint endpoint, ClusterKey clusterKey, ILogger<PartitionGrain> logger)
    : Grain, IPartitionGrain, IIncomingGrainCallFilter
{
    private PartitionGrainKey _key;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        if (!PartitionGrainKey.TryParse(key, out _key))
            throw new GridException(GridErrorCode.InvalidId, $"'{key}' is not a partition grain key (app/shuffle/partition/epoch/copy).");
        KeepAliveWhileHosted(catalog.Find(_key.Partition));
        return Task.CompletedTask;
    }

    /// <summary>Every call proves the cluster secret: reserving, committing and deleting copies is for silos only.</summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (clusterKey.CheckMember() is { } why)
        {
            GrainLog.CallRefused(logger, context.InterfaceMethod.Name, this.GetPrimaryKeyString(), why);
            throw new GridException(GridErrorCode.Unauthorized, $"{context.InterfaceMethod.Name} of a partition copy is for member silos only: {why}.");
        }
        ClusterKey.ClearTokens();
        await context.Invoke().ConfigureAwait(true);
    }

    public async Task<SiloEndpoint> Reserve(SiloEndpoint? replica, byte[]? applicationKey)
    {
        if (_key.Copy == PartitionGrainKey.ReplicaCopy && replica is not null)
            throw new GridException(GridErrorCode.InvalidArgument, $"The replica {_key} forwards to nobody; only a primary names a replica.");
        var role = _key.Copy == PartitionGrainKey.PrimaryCopy ? PartitionRole.Primary : PartitionRole.Replica;
        HostedPartition hosted;
        try
        {
            hosted = catalog.Reserve(_key.Partition, role, replica, applicationKey);
        }
        catch (GridException)
        {
            // No slot here after all (the director's view was stale): let the next try place it anew.
            KeepAliveWhileHosted(catalog.Find(_key.Partition));
            DeactivateOnIdle();
            throw;
        }
        KeepAliveWhileHosted(hosted);
        GrainLog.PartitionReserved(logger, _key.ToString(), role, replica?.Endpoint ?? "-", hosted.Disk.Root);
        return await endpoint.Bound.ConfigureAwait(true);
    }

    public async Task<CommittedFile> Commit()
    {
        if (catalog.Find(_key.Partition) is not { } hosted)
        {
            KeepAliveWhileHosted(null);
            DeactivateOnIdle();
            throw new GridException(GridErrorCode.UnknownPartition,
                $"Partition copy {_key} holds no data here: it was never reserved on this silo, or was deleted (the silo that held it was lost, or its application was swept).");
        }
        return await catalog.CommitAsync(hosted).ConfigureAwait(true);
    }

    public async Task Destroy()
    {
        await catalog.DestroyAsync(_key.Partition).ConfigureAwait(true);
        KeepAliveWhileHosted(null);
        DeactivateOnIdle();
    }

    /// <summary>No idle collection while this silo hosts the copy's file; Orleans' usual collection otherwise.</summary>
    private void KeepAliveWhileHosted(HostedPartition? hosted) =>
        DelayDeactivation(hosted is not null ? Timeout.InfiniteTimeSpan : TimeSpan.Zero);
}
