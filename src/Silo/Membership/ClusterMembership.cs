using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Placement;

namespace Orleans.Shuffle.Silo.Membership;

/// <summary>
/// This silo's latest read of the membership table. Placement, ShuffleGrain routing and the cluster
/// view served to clients read it; the membership agent replaces it on every refresh.
/// </summary>
public sealed class ClusterMembership
{
    private volatile MembershipTableData _snapshot = new([], new TableVersion(0, "0"));

    public MembershipTableData Snapshot => _snapshot;

    public long Version => _snapshot.Version.Version;

    public IReadOnlyList<MembershipEntry> Active => _snapshot.Members.Select(m => m.Entry).Where(e => e.Status == SiloStatus.Active).ToList();

    public void Update(MembershipTableData snapshot) => _snapshot = snapshot;

    /// <summary>The silo that hosts an application's ShuffleGrain: hash placement over the Active silos.</summary>
    public MembershipEntry? ShuffleGrainOwner(string appId)
    {
        var active = Active;
        return active.Count == 0 ? null : HashBasedPlacement.Pick(appId, active, e => e.SiloAddress.Identity);
    }

    public ClusterView ToView(Func<MembershipEntry, SiloInfo> describe) => new(
        Version,
        _snapshot.Members.Select(m => m.Entry).Where(e => e.Status != SiloStatus.Dead).Select(describe).ToList());

    public static SiloInfo Describe(MembershipEntry entry, int totalSlots = -1, int freeSlots = -1) => new(
        entry.SiloAddress.Identity, entry.SiloName, entry.SiloAddress.Host, entry.ProxyPort, entry.HttpPort, entry.Status,
        totalSlots, freeSlots, entry.FaultZone);
}
