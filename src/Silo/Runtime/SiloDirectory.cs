using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Silo.Networking;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.Runtime;

/// <summary>
/// The grains' view of the cluster: active silos from membership, slot counts asked of each silo
/// when placing, and PartitionGrain calls that go to the local catalog or over a silo connection.
/// </summary>
public sealed class SiloDirectory(
    LocalSilo local, ClusterMembership membership, PartitionCatalog partitions, SiloConnectionPool connections)
    : ISiloDirectory
{
    public SiloInfo Self => local.ToInfo();

    public async Task<IReadOnlyList<SiloInfo>> GetActiveSilosWithLoadAsync(CancellationToken cancellationToken)
    {
        var active = membership.Active;
        var infos = await Task.WhenAll(active.Select(async entry =>
        {
            if (IsSelf(entry.SiloAddress.Identity)) return Self;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                using var reply = await connections.SendAsync(entry.SiloAddress.Host, entry.ProxyPort, MessageType.GetSiloStats, default(Empty), timeout.Token).ConfigureAwait(false);
                return reply.Read<SiloStats>().Silo;
            }
            catch (Exception e) when (e is GridException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return null; // unreachable now: not a placement candidate
            }
        })).ConfigureAwait(false);
        return infos.Where(i => i is not null).Select(i => i!).ToList();
    }

    public Task ReservePartitionsAsync(SiloEndpoint silo, ReservePartitions refs, CancellationToken cancellationToken)
    {
        if (IsSelf(silo.Identity))
        {
            partitions.Reserve(refs.AppId, refs.ShuffleId, refs.Partitions);
            return Task.CompletedTask;
        }
        return SendAsync(silo, MessageType.ReservePartitions, refs, cancellationToken);
    }

    public async Task<CommitReply> CommitPartitionsAsync(SiloEndpoint silo, PartitionRefs refs, CancellationToken cancellationToken)
    {
        if (IsSelf(silo.Identity)) return await partitions.CommitAsync(refs.AppId, refs.ShuffleId, refs.Partitions).ConfigureAwait(false);
        using var reply = await connections.SendAsync(silo.Host, silo.Port, MessageType.CommitPartitions, refs, cancellationToken).ConfigureAwait(false);
        return reply.Read<CommitReply>();
    }

    public async Task DestroyShuffleAsync(SiloEndpoint silo, string appId, int shuffleId, CancellationToken cancellationToken)
    {
        if (IsSelf(silo.Identity))
        {
            await partitions.DestroyAsync(appId, shuffleId).ConfigureAwait(false);
            return;
        }
        await SendAsync(silo, MessageType.DestroyShuffle, new ShuffleRequest(appId, shuffleId), cancellationToken).ConfigureAwait(false);
    }

    private async Task SendAsync<T>(SiloEndpoint silo, MessageType type, T body, CancellationToken cancellationToken) where T : IWireMessage<T>
    {
        using var reply = await connections.SendAsync(silo.Host, silo.Port, type, body, cancellationToken).ConfigureAwait(false);
    }

    private bool IsSelf(string identity) => local.IsBound && identity == local.Address.Identity;
}
