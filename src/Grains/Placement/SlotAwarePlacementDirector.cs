using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Placement;

/// <summary>
/// Places PartitionGrains on silos by free slots. Each partition goes to the silo with the most
/// free slots left after the partitions placed before it ("water filling"): equal silos get equal
/// shares, a fuller silo gets fewer, and a silo with no free slot gets none. Ties go round robin
/// from a per-shuffle starting point, so small shuffles do not all start on the same silo.
/// </summary>
public sealed class SlotAwarePlacementDirector
{
    /// <summary>Returns the silo for each partition, in the order given.</summary>
    public IReadOnlyList<SiloInfo> Place(int partitionCount, IReadOnlyList<SiloInfo> silos, int tieBreakSeed = 0)
    {
        var candidates = silos.Where(s => s.FreeSlots > 0).OrderBy(s => s.Identity, StringComparer.Ordinal).ToList();
        long totalFree = candidates.Sum(s => (long)s.FreeSlots);
        if (partitionCount > totalFree)
            throw new GridException(ErrorCode.NoSlots, $"Need {partitionCount} partition slots but the {silos.Count} active silos have {totalFree} free.");

        int n = candidates.Count;
        var free = candidates.Select(s => s.FreeSlots).ToArray();
        var result = new SiloInfo[partitionCount];
        int start = n == 0 ? 0 : (int)((uint)tieBreakSeed % (uint)n);
        // Keyed by (-free, rotated index): most free first, ties in round-robin order from the seed.
        var queue = new PriorityQueue<int, (int NegFree, int Order)>();
        for (int i = 0; i < n; i++) queue.Enqueue(i, (-free[i], (i - start + n) % n));
        for (int p = 0; p < partitionCount; p++)
        {
            queue.TryDequeue(out int silo, out var priority);
            result[p] = candidates[silo];
            free[silo]--;
            if (free[silo] > 0) queue.Enqueue(silo, (-free[silo], priority.Order));
        }
        return result;
    }
}
