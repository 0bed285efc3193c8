using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Placement;

/// <summary>
/// Places each new PartitionGrain copy on the Active storage silo with the most free slots (water
/// filling across a burst, see <see cref="SlotReportCache"/>), leaving out the silos the caller
/// excluded and the silo of the partition's other copy; when silos declare fault zones, a silo outside
/// the other copy's zone wins over any silo inside it. Ties rotate by grain, so equal silos share
/// evenly. With no free slot anywhere it fails the activation with NoSlots. A call for an existing
/// copy names the copy's silo (<see cref="PlacementRequest.AtAsync"/>): the grain is activated again
/// there, where its data is, and if that silo is not Active the call fails with SiloUnavailable
/// rather than activating an empty copy somewhere else. Only member silos place copies: a call
/// without a member token of the cluster secret activates nothing (a client could otherwise steer a
/// victim's future copies with placement hints, or pre-activate them where they must not be).
/// </summary>
internal sealed class SlotAwarePlacementDirector(SlotReportCache reports, ISiloStatusOracle membership, Security.ClusterKey clusterKey) : IPlacementDirector
{
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        if (clusterKey.CheckMember(target.RequestContextData) is { } why)
            throw new GridException(GridErrorCode.Unauthorized, $"Placing {target.GrainIdentity} is for member silos only: {why}.");
        var active = ActiveSilos(context.GetCompatibleSilos(target), membership.GetApproximateSiloStatus);
        if (PlacementRequest.Home(target.RequestContextData) is { } home)
        {
            return active.Contains(home)
                ? home
                : throw new GridException(GridErrorCode.SiloUnavailable, $"{target.GrainIdentity} lives on silo {home}, which is not active.");
        }
        var excluded = PlacementRequest.ExcludedSilos(target.RequestContextData);
        var peer = PlacementRequest.PeerSilo(target.RequestContextData);
        var candidates = active.Where(s => !excluded.Contains(s) && !s.Equals(peer)).ToList();
        if (candidates.Count == 0)
        {
            throw new GridException(GridErrorCode.NoSlots,
                $"No Active storage silo may take {target.GrainIdentity}: {active.Count} active, {excluded.Count} excluded" +
                (peer is null ? "." : $", and the other copy is on {peer}."));
        }

        var asked = peer is null || !active.Contains(peer) ? candidates : [.. candidates, peer];
        int answered = 0;
        uint tieBreak = target.GrainIdentity.GetUniformHashCode();
        var choice = await reports.PlaceAsync(asked, PlacementRequest.Fresh(target.RequestContextData), loads =>
        {
            answered = loads.Count;
            string? peerZone = loads.FirstOrDefault(l => l.Silo.Equals(peer)).Report?.FaultZone;
            return Choose(loads.Where(l => !l.Silo.Equals(peer)).ToList(), peerZone, tieBreak);
        }).ConfigureAwait(false);
        return choice ?? throw new GridException(GridErrorCode.NoSlots,
            $"No free partition slot for {target.GrainIdentity}: {answered} of {asked.Count} silos answered, none has a free slot.");
    }

    /// <summary>
    /// The silos a copy may go to: Active ones only. A Joining silo may still fail to join, a ShuttingDown
    /// or Stopping one is leaving, and both still answer slot reports, so the status decides, not the reports.
    /// </summary>
    internal static List<SiloAddress> ActiveSilos(IEnumerable<SiloAddress> compatible, Func<SiloAddress, SiloStatus> status) =>
        compatible.Where(s => status(s) == SiloStatus.Active).ToList();

    /// <summary>The silo with the most free slots (another zone than <paramref name="peerZone"/> first); null when none has one.</summary>
    internal static SiloAddress? Choose(IReadOnlyList<SiloLoad> loads, string? peerZone, uint tieBreak)
    {
        bool zoned = !string.IsNullOrEmpty(peerZone) && loads.Any(l => l.Report.FaultZone != peerZone);
        var ordered = loads.OrderBy(l => l.Silo.ToParsableString(), StringComparer.Ordinal).ToList();
        SiloAddress? best = null;
        (bool OtherZone, int Free) bestScore = default;
        for (int i = 0; i < ordered.Count; i++)
        {
            var load = ordered[(int)((tieBreak + (uint)i) % (uint)ordered.Count)];
            if (load.EffectiveFree <= 0) continue;
            var score = (OtherZone: zoned && load.Report.FaultZone != peerZone, Free: load.EffectiveFree);
            if (best is null || score.OtherZone && !bestScore.OtherZone || score.OtherZone == bestScore.OtherZone && score.Free > bestScore.Free)
            {
                best = load.Silo;
                bestScore = score;
            }
        }
        return best;
    }
}
