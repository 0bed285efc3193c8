using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>The persisted state of a ShuffleGrain: the application's shuffles, and when its driver was last heard from.</summary>
[GenerateSerializer]
public sealed class ShuffleGrainState
{
    [Id(0)]
    public Dictionary<int, ShuffleRecord> Shuffles { get; set; } = [];

    /// <summary>The last heartbeat written to storage; written at most every quarter of the TTL, so expiry survives the grain's silo.</summary>
    [Id(1)]
    public DateTimeOffset LastHeartbeat { get; set; }

    /// <summary>The application's secret, set at registration: its calls and data connections prove it.</summary>
    [Id(2)]
    public Orleans.Shuffle.Security.ApplicationSecret? Secret { get; set; }
}

/// <summary>What the ShuffleGrain knows of one shuffle: spec, every location epoch, map winners and the commit outcome.</summary>
[GenerateSerializer]
public sealed class ShuffleRecord
{
    [Id(0)]
    public int ShuffleId { get; set; }

    [Id(1)]
    public ShuffleSpec Spec { get; set; } = new(1, 1);

    /// <summary>Every placed epoch of every partition. An epoch beyond 0 exists after a revive or a split.</summary>
    [Id(2)]
    public List<PartitionLocation> Locations { get; set; } = [];

    /// <summary>Epochs whose placement failed half way: nothing points at them, but their copies may hold slots until deleted.</summary>
    [Id(3)]
    public List<PartitionRef> Abandoned { get; set; } = [];

    /// <summary>The attempt that ended first for each map, or -1 while the map has not ended.</summary>
    [Id(4)]
    public int[] WinningAttempts { get; set; } = [];

    [Id(5)]
    public int EndedMaps { get; set; }

    /// <summary>Set once every partition epoch has a committed copy.</summary>
    [Id(6)]
    public ReducerFileGroup? Committed { get; set; }

    /// <summary>Set when commit found partition epochs with no committed copy (data lost).</summary>
    [Id(7)]
    public string? CommitError { get; set; }

    public bool AllMapsEnded => EndedMaps == Spec.NumMaps;

    public bool CommitPending => AllMapsEnded && Committed is null && CommitError is null;

    /// <summary>The newest epoch of a partition: where pushes go now.</summary>
    public PartitionLocation Current(int partitionId)
    {
        PartitionLocation? newest = null;
        foreach (var location in Locations)
        {
            if (location.PartitionId == partitionId && (newest is null || location.Epoch > newest.Value.Epoch)) newest = location;
        }
        return newest ?? throw new InvalidOperationException($"Partition {partitionId} has no location.");
    }

    /// <summary>The next epoch number of a partition: above every epoch placed or abandoned.</summary>
    public int NextEpoch(int partitionId)
    {
        int next = 0;
        foreach (var l in Locations) if (l.PartitionId == partitionId) next = Math.Max(next, l.Epoch + 1);
        foreach (var a in Abandoned) if (a.PartitionId == partitionId) next = Math.Max(next, a.Epoch + 1);
        return next;
    }

    /// <summary>The newest epoch of every partition, in partition order.</summary>
    public ShuffleLocations CurrentLocations() => new(Spec,
        Locations.GroupBy(l => l.PartitionId).Select(g => g.MaxBy(l => l.Epoch)).OrderBy(l => l.PartitionId).ToList());

    /// <summary>Every silo that holds a copy of any epoch.</summary>
    public IEnumerable<SiloEndpoint> Silos() => Locations.SelectMany(l => l.Copies).DistinctBy(s => s.Identity);

    public string StateName => Committed is not null ? "committed" : CommitError is not null ? "lost" : AllMapsEnded ? "committing" : "open";
}
