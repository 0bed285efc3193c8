using Orleans.Runtime;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Placement;

/// <summary>The slot-aware placement director's choice, alone and as Orleans uses it to activate PartitionGrains.</summary>
public sealed class SlotAwarePlacementTests
{
    private static readonly SiloAddress[] Silos = Enumerable.Range(1, 4)
        .Select(i => SiloAddress.New(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 11000 + i), 1)).ToArray();

    /// <summary>Places <paramref name="count"/> copies one after the other, as the director does in a burst, and counts them per silo.</summary>
    private static int[] Fill(int count, int[] free, string[]? zones = null, string? peerZone = null)
    {
        var placed = new int[free.Length];
        for (int i = 0; i < count; i++)
        {
            var loads = free.Select((f, s) => new SiloLoad(Silos[s], new SlotReport(100, f, zones?[s] ?? ""), f - placed[s])).ToList();
            var choice = SlotAwarePlacementDirector.Choose(loads, peerZone, (uint)i * 2654435761u);
            if (choice is null) break;
            placed[Array.IndexOf(Silos, choice)]++;
        }
        return placed;
    }

    [Fact]
    public void Equal_silos_get_equal_shares() => Assert.Equal([5, 5, 5], Fill(15, [20, 20, 20]));

    [Fact]
    public void Unequal_free_slots_are_water_filled() => Assert.Equal([0, 20, 10], Fill(30, [10, 30, 20]));

    [Fact]
    public void A_silo_without_free_slots_gets_nothing_and_a_full_grid_gets_no_choice()
    {
        Assert.Equal([0, 3, 0], Fill(3, [0, 5, 0]));
        Assert.Equal([2, 1], Fill(10, [2, 1]));
    }

    [Fact]
    public void Only_Active_silos_are_candidates()
    {
        var status = new Dictionary<SiloAddress, SiloStatus>
        {
            [Silos[0]] = SiloStatus.Joining,
            [Silos[1]] = SiloStatus.Active,
            [Silos[2]] = SiloStatus.ShuttingDown,
            [Silos[3]] = SiloStatus.Dead,
        };
        Assert.Equal([Silos[1]], SlotAwarePlacementDirector.ActiveSilos(Silos, s => status[s]));
        Assert.Empty(SlotAwarePlacementDirector.ActiveSilos(Silos, _ => SiloStatus.Stopping));
    }

    [Fact]
    public void Ties_rotate_by_grain_and_the_order_of_the_silo_list_does_not_matter()
    {
        var loads = Silos.Select(s => new SiloLoad(s, new SlotReport(100, 10, ""), 10)).ToList();
        var picks = Enumerable.Range(0, 400).Select(i => SlotAwarePlacementDirector.Choose(loads, null, (uint)i)).ToList();
        Assert.All(Silos, s => Assert.Equal(100, picks.Count(p => p!.Equals(s))));
        var reversed = Enumerable.Reverse(loads).ToList();
        Assert.All(Enumerable.Range(0, 50), i => Assert.Equal(
            SlotAwarePlacementDirector.Choose(loads, null, (uint)i), SlotAwarePlacementDirector.Choose(reversed, null, (uint)i)));
    }

    [Fact]
    public void Equal_silos_stay_balanced_at_every_prefix_of_a_burst()
    {
        for (int count = 1; count <= 30; count++)
        {
            var placed = Fill(count, [20, 20, 20]);
            Assert.True(placed.Max() - placed.Min() <= 1, $"after {count} placements: {string.Join("/", placed)}");
        }
    }

    [Fact]
    public void Water_filling_reaches_the_small_silo_once_the_level_drops_to_it()
    {
        // 30 and 20 fill down to the small silo's 10 (30 copies: 0/20/10), then all three share the next 15.
        Assert.Equal([5, 25, 15], Fill(45, [10, 30, 20]));
    }

    [Fact]
    public void Another_fault_zone_wins_over_free_slots()
    {
        // The other copy is in zone a: zone b takes the copy even though zone a has more room.
        Assert.Equal([0, 0, 1, 0], Fill(1, [50, 40, 5, 4], ["a", "a", "b", "b"], peerZone: "a"));
        // Without zones, free slots decide.
        Assert.Equal([1, 0, 0, 0], Fill(1, [50, 40, 5, 4], peerZone: null));
    }
}

/// <summary>Placement decisions of real PartitionGrain activations on a real cluster.</summary>
[Collection(SiloCollection.Name)]
public sealed class SlotAwarePlacementGridTests
{
    [Fact]
    public async Task Partitions_go_where_the_free_slots_are()
    {
        int[] slots = [10, 30, 20];
        await using var grid = await TestGrid.StartAsync(3, slotsOf: i => slots[i]);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("water");
        await grid.RegisterAsync(grain);
        var locations = await grain.RegisterShuffle(0, new ShuffleSpec(1, 30, Replicas: 1));

        var perSilo = grid.Silos.ToDictionary(TestGrid.IndexOf, s => locations.Locations.Count(l => l.Primary.Identity == s.SiloAddress.ToParsableString()));
        Assert.Equal(new Dictionary<int, int> { [0] = 0, [1] = 20, [2] = 10 }, perSilo);
        Assert.All(grid.Silos, s => Assert.Equal(slots[TestGrid.IndexOf(s)] - perSilo[TestGrid.IndexOf(s)], grid.CatalogOf(s).FreeSlots));
    }

    [Fact]
    public async Task A_replica_is_never_on_its_primary_silo_and_each_silo_hosts_the_copies_it_is_named_for()
    {
        await using var grid = await TestGrid.StartAsync(3);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("replicas");
        await grid.RegisterAsync(grain);
        var locations = await grain.RegisterShuffle(0, new ShuffleSpec(1, 12));

        foreach (var location in locations.Locations)
        {
            Assert.NotNull(location.Replica);
            Assert.NotEqual(location.Primary.Identity, location.Replica.Identity);
            var key = new Orleans.Shuffle.Grains.Partition.PartitionKey("replicas", 0, location.PartitionId, location.Epoch);
            var primary = grid.CatalogOf(grid.SiloOf(location.Primary)!).Find(key);
            var replica = grid.CatalogOf(grid.SiloOf(location.Replica)!).Find(key);
            Assert.Equal(PartitionRole.Primary, primary!.Role);
            Assert.Equal(location.Replica, primary.Replica);
            Assert.Equal(PartitionRole.Replica, replica!.Role);
            Assert.Equal(location.Primary.Endpoint, (await grid.DataEndpointOf(grid.SiloOf(location.Primary)!)).Endpoint);
        }
        // 24 copies over 3 equal silos: water filling keeps them within one of each other.
        var copies = grid.Silos.Select(s => grid.CatalogOf(s).Count).ToList();
        Assert.Equal(24, copies.Sum());
        Assert.True(copies.Max() - copies.Min() <= 2, string.Join(",", copies));
    }

    [Fact]
    public async Task Replicas_go_to_another_fault_zone()
    {
        string[] zones = ["az-a", "az-a", "az-b", "az-b"];
        await using var grid = await TestGrid.StartAsync(4, faultZone: i => zones[i]);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("zones");
        await grid.RegisterAsync(grain);
        var locations = await grain.RegisterShuffle(0, new ShuffleSpec(1, 16));
        string ZoneOf(SiloEndpoint silo) => zones[TestGrid.IndexOf(grid.SiloOf(silo)!)];
        Assert.All(locations.Locations, l => Assert.NotEqual(ZoneOf(l.Primary), ZoneOf(l.Replica!)));
    }

    [Fact]
    public async Task A_killed_silo_is_never_chosen_whether_or_not_it_is_voted_dead_yet()
    {
        // Before the vote it is still Active to the others, but it answers no slot report; after, it is not a candidate.
        await using var grid = await TestGrid.StartAsync(3);
        var victim = grid.Silos[2];
        string dead = victim.SiloAddress.ToParsableString();
        await grid.KillSiloAsync(victim);

        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("after-death");
        await grid.RegisterAsync(grain);
        var locations = await grain.RegisterShuffle(0, new ShuffleSpec(1, 20));
        Assert.All(locations.Locations.SelectMany(l => l.Copies), c => Assert.NotEqual(dead, c.Identity));
        Assert.All(locations.Locations, l => Assert.NotNull(l.Replica));
    }
}
