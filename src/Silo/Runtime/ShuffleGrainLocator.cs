using System.Collections.Concurrent;
using Orleans.Shuffle.GrainDirectory;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.Runtime;

/// <summary>Where a ShuffleGrain request is served: by a local activation, or by another silo.</summary>
public readonly record struct ShuffleGrainRoute(ShuffleGrain? Local, MembershipEntry? Remote);

/// <summary>
/// Finds or places the single activation of an application's ShuffleGrain, as Orleans' grain
/// locator does. An existing activation is found through the grain directory (and a local cache),
/// so silos joining or leaving do not move a live grain. A grain with no live registration is placed
/// by hash over the Active silos; the silo it lands on registers itself, and the first registration
/// wins, so two silos with different views can never both activate it.
/// </summary>
public sealed class ShuffleGrainLocator(IGrainDirectory directory, ClusterMembership membership, LocalSilo local, ShuffleGrainCatalog grains)
{
    private readonly ConcurrentDictionary<string, GrainAddress> _cache = new(StringComparer.Ordinal);

    /// <param name="forwarded">A gateway sent the request here; it is served here or refused, never forwarded again.</param>
    public async Task<ShuffleGrainRoute> ResolveAsync(string appId, bool forwarded)
    {
        if (grains.Find(appId) is { } grain)
        {
            if (!grain.IsDefunct) return new(grain, null);
            await DeactivateAsync(grain).ConfigureAwait(false); // another activation owns the state now
        }

        if (_cache.TryGetValue(appId, out var cached) && !IsSelf(cached) && Live(cached) is { } cachedHost)
            return forwarded ? throw Moved(appId, cachedHost) : new(null, cachedHost);

        var registered = await directory.Lookup(appId).ConfigureAwait(false);
        if (registered is not null && !IsSelf(registered) && Live(registered) is { } host)
        {
            _cache[appId] = registered;
            return forwarded ? throw Moved(appId, host) : new(null, host);
        }

        // No live registration: the grain was never activated, or its silo died. Grains are
        // virtual: it is activated where placement puts it, and loads its state from storage.
        var owner = membership.ShuffleGrainOwner(appId);
        if (!forwarded && owner is not null && !IsSelf(owner.SiloAddress.Identity)) return new(null, owner);

        var winner = await directory.Register(new GrainAddress(appId, local.Address.Identity), registered).ConfigureAwait(false);
        if (IsSelf(winner))
        {
            _cache.TryRemove(appId, out _);
            return new(await grains.GetOrActivateAsync(appId).ConfigureAwait(false), null);
        }
        _cache[appId] = winner;
        var winnerHost = Live(winner) ?? throw new GridException(ErrorCode.SiloUnavailable, $"The ShuffleGrain of {appId} is registered on silo {winner.SiloIdentity}, which is not active.");
        return forwarded ? throw Moved(appId, winnerHost) : new(null, winnerHost);
    }

    /// <summary>Deactivates a local grain and removes its registration.</summary>
    public async Task DeactivateAsync(ShuffleGrain grain)
    {
        grains.Deactivate(grain);
        await directory.Unregister(new GrainAddress(grain.AppId, local.Address.Identity)).ConfigureAwait(false);
    }

    private MembershipEntry? Live(GrainAddress address) =>
        membership.Active.FirstOrDefault(e => e.SiloAddress.Identity == address.SiloIdentity);

    private bool IsSelf(GrainAddress address) => IsSelf(address.SiloIdentity);

    private bool IsSelf(string identity) => local.IsBound && identity == local.Address.Identity;

    private static GridException Moved(string appId, MembershipEntry host) =>
        new(ErrorCode.SiloUnavailable, $"The ShuffleGrain of {appId} lives on silo {host.SiloName}; send the request there.");
}
