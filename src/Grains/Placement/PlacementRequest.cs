using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Orleans.Shuffle.Grains.Placement;

/// <summary>
/// What the ShuffleGrain tells the placement director about a PartitionGrain call, through Orleans'
/// request context. A Reserve (a new copy) names silos to leave out (those a revive names as failed)
/// and the silo of the partition's other copy, which the new copy must not share. Every later call
/// (commit, delete) names the silo the copy lives on, Orleans' placement hint: if the grain has to be
/// activated again (its directory entry was lost with another silo) it is activated there, with its
/// data, or nowhere.
/// </summary>
internal static class PlacementRequest
{
    private const string ExcludedKey = "shuffle.placement.excluded";
    private const string PeerKey = "shuffle.placement.peer";
    private const string FreshKey = "shuffle.placement.fresh";

    /// <summary>
    /// Runs <paramref name="call"/> with the placement wishes in its request context (only its own async
    /// flow sees them). <paramref name="fresh"/> asks the director to ask the silos for their slots
    /// again rather than trust its estimate: a try before this one was refused for want of a slot.
    /// </summary>
    public static async Task<T> WithAsync<T>(IReadOnlyCollection<string> excludedSilos, string? peerSilo, bool fresh, Func<Task<T>> call)
    {
        if (excludedSilos.Count > 0) RequestContext.Set(ExcludedKey, excludedSilos.ToArray());
        if (peerSilo is not null) RequestContext.Set(PeerKey, peerSilo);
        if (fresh) RequestContext.Set(FreshKey, true);
        try
        {
            return await call().ConfigureAwait(true);
        }
        finally
        {
            RequestContext.Remove(ExcludedKey);
            RequestContext.Remove(PeerKey);
            RequestContext.Remove(FreshKey);
        }
    }

    public static bool Fresh(Dictionary<string, object>? context) => context is not null && context.ContainsKey(FreshKey);

    /// <summary>Runs <paramref name="call"/> with <paramref name="home"/> (a silo identity) as its placement hint.</summary>
    public static async Task<T> AtAsync<T>(string home, Func<Task<T>> call)
    {
        if (TryParse(home) is { } silo) RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
        try
        {
            return await call().ConfigureAwait(true);
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }

    /// <summary>The silo a call for an existing copy names, if it names one.</summary>
    public static SiloAddress? Home(Dictionary<string, object>? context) =>
        context is not null && context.TryGetValue(IPlacementDirector.PlacementHintKey, out var value) ? value as SiloAddress : null;

    public static IReadOnlySet<SiloAddress> ExcludedSilos(Dictionary<string, object>? context) =>
        context is not null && context.TryGetValue(ExcludedKey, out var value) && value is string[] identities
            ? identities.Select(TryParse).OfType<SiloAddress>().ToHashSet()
            : new HashSet<SiloAddress>();

    public static SiloAddress? PeerSilo(Dictionary<string, object>? context) =>
        context is not null && context.TryGetValue(PeerKey, out var value) && value is string identity ? TryParse(identity) : null;

    private static SiloAddress? TryParse(string identity)
    {
        try
        {
            return SiloAddress.FromParsableString(identity);
        }
        catch (FormatException)
        {
            return null; // an identity from a client that does not parse names no silo
        }
    }
}
