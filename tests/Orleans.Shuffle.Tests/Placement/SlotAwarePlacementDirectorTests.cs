using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Placement;

public class SlotAwarePlacementDirectorTests
{
    private static SiloInfo Silo(string name, int free, int total = 1000) =>
        new($"127.0.0.1-{name}-1", name, "127.0.0.1", 1, 0, SiloStatus.Active, total, free, "");

    private static Dictionary<string, int> Counts(IReadOnlyList<SiloInfo> placed, params SiloInfo[] silos)
    {
        var counts = silos.ToDictionary(s => s.Name, _ => 0);
        foreach (var silo in placed) counts[silo.Name]++;
        return counts;
    }

    [Fact]
    public void Equal_silos_get_equal_shares()
    {
        var silos = new[] { Silo("a", 100), Silo("b", 100), Silo("c", 100) };
        var placed = new SlotAwarePlacementDirector().Place(300, silos);
        Assert.Equal(300, placed.Count);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 100, ["b"] = 100, ["c"] = 100 }, Counts(placed, silos));
    }

    [Fact]
    public void Equal_silos_stay_balanced_at_every_prefix()
    {
        var silos = new[] { Silo("a", 100), Silo("b", 100), Silo("c", 100) };
        var placed = new SlotAwarePlacementDirector().Place(300, silos, tieBreakSeed: 5);
        for (int n = 1; n <= placed.Count; n++)
        {
            var counts = Counts(placed.Take(n).ToList(), silos).Values;
            Assert.True(counts.Max() - counts.Min() <= 1, $"after {n} partitions: {string.Join("/", counts)}");
        }
    }

    [Fact]
    public void Unequal_free_slots_are_water_filled()
    {
        // Water filling: 'a' takes partitions until it is down to b's 50 free, then a and b alternate
        // (5 each) while c, with 10 free, stays below the water line: 55 / 5 / 0.
        var silos = new[] { Silo("a", 100), Silo("b", 50), Silo("c", 10) };
        var placed = new SlotAwarePlacementDirector().Place(60, silos);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 55, ["b"] = 5, ["c"] = 0 }, Counts(placed, silos));
    }

    [Fact]
    public void Water_filling_reaches_the_small_silo_once_the_level_drops_to_it()
    {
        var silos = new[] { Silo("a", 100), Silo("b", 50), Silo("c", 10) };
        var placed = new SlotAwarePlacementDirector().Place(150, silos);
        // Left free afterwards: 100-x, 50-y, 10-z, all at the same level of 10/3 -> 4,3,3 in some order.
        var counts = Counts(placed, silos);
        Assert.Equal(150, counts.Values.Sum());
        var left = new[] { 100 - counts["a"], 50 - counts["b"], 10 - counts["c"] };
        Assert.True(left.Max() - left.Min() <= 1, string.Join("/", left));
    }

    [Fact]
    public void A_silo_without_free_slots_gets_nothing()
    {
        var silos = new[] { Silo("a", 10), Silo("b", 0), Silo("c", 10) };
        var placed = new SlotAwarePlacementDirector().Place(20, silos);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 10, ["b"] = 0, ["c"] = 10 }, Counts(placed, silos));
    }

    [Fact]
    public void Too_few_slots_is_NoSlots()
    {
        var silos = new[] { Silo("a", 5), Silo("b", 5), Silo("c", 5) };
        var e = Assert.Throws<GridException>(() => new SlotAwarePlacementDirector().Place(16, silos));
        Assert.Equal(ErrorCode.NoSlots, e.Code);
        Assert.Equal(ErrorCode.NoSlots, Assert.Throws<GridException>(() => new SlotAwarePlacementDirector().Place(1, [])).Code);
        Assert.Equal(15, new SlotAwarePlacementDirector().Place(15, silos).Count);
    }

    [Fact]
    public void Ties_start_from_the_seed()
    {
        var silos = new[] { Silo("a", 10), Silo("b", 10), Silo("c", 10) };
        var director = new SlotAwarePlacementDirector();
        var firsts = Enumerable.Range(0, 3).Select(seed => director.Place(1, silos, seed)[0].Name).ToHashSet();
        Assert.Equal(3, firsts.Count);
    }

    [Fact]
    public void The_order_of_the_silo_list_does_not_matter()
    {
        var silos = new[] { Silo("a", 30), Silo("b", 20), Silo("c", 10) };
        var director = new SlotAwarePlacementDirector();
        var forward = director.Place(25, silos, 3).Select(s => s.Name);
        var backward = director.Place(25, silos.Reverse().ToArray(), 3).Select(s => s.Name);
        Assert.Equal(forward, backward);
    }
}
