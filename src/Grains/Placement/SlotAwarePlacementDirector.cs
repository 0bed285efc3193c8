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

    /// <summary>
    /// Places primaries as <see cref="Place"/> does, then a replica for each on another silo: the one
    /// with the most free slots left, preferring a fault zone other than the primary's when silos
    /// declare zones. With a single silo there is no replica (the shuffle runs unreplicated).
    /// </summary>
    public IReadOnlyList<(SiloInfo Primary, SiloInfo? Replica)> PlaceWithReplicas(int partitionCount, IReadOnlyList<SiloInfo> silos, int replicas, int tieBreakSeed = 0)
    {
        var candidates = silos.Where(s => s.FreeSlots > 0).OrderBy(s => s.Identity, StringComparer.Ordinal).ToList();
        bool replicate = replicas > 1 && candidates.Count > 1;
        long needed = (long)partitionCount * (replicate ? 2 : 1);
        long totalFree = candidates.Sum(s => (long)s.FreeSlots);
        if (needed > totalFree)
            throw new GridException(ErrorCode.NoSlots, $"Need {needed} partition slots but the {silos.Count} active silos have {totalFree} free.");

        var primaries = Place(partitionCount, candidates, tieBreakSeed);
        var result = new (SiloInfo, SiloInfo?)[partitionCount];
        if (!replicate)
        {
            for (int p = 0; p < partitionCount; p++) result[p] = (primaries[p], null);
            return result;
        }

        var free = candidates.ToDictionary(s => s.Identity, s => s.FreeSlots);
        foreach (var primary in primaries) free[primary.Identity]--;
        bool zoned = candidates.Select(s => s.FaultZone).Distinct().Count() > 1;
        for (int p = 0; p < partitionCount; p++)
        {
            var primary = primaries[p];
            SiloInfo? best = null;
            int bestScore = int.MinValue;
            for (int i = 0; i < candidates.Count; i++)
            {
                // Rotate the scan start so equal silos take turns.
                var silo = candidates[(int)((uint)(i + p + tieBreakSeed) % (uint)candidates.Count)];
                if (silo.Identity == primary.Identity || free[silo.Identity] <= 0) continue;
                bool otherZone = zoned && silo.FaultZone != primary.FaultZone;
                int score = free[silo.Identity] + (otherZone ? 1 << 24 : 0);
                if (score > bestScore)
                {
                    best = silo;
                    bestScore = score;
                }
            }
            if (best is null) throw new GridException(ErrorCode.NoSlots, $"No silo other than {primary.Name} has a free slot for a replica.");
            free[best.Identity]--;
            result[p] = (primary, best);
        }
        return result;
    }
}
