using System.Text.Json.Serialization;
using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>The persisted state of a ShuffleGrain: every shuffle of the application.</summary>
internal sealed class ShuffleGrainState
{
    public Dictionary<int, ShuffleRecord> Shuffles { get; set; } = [];
}

/// <summary>What the ShuffleGrain knows of one shuffle: shape, every location epoch, map winners and commit outcome.</summary>
internal sealed class ShuffleRecord
{
    public int ShuffleId { get; set; }

    public int NumMaps { get; set; }

    public int NumPartitions { get; set; }

    /// <summary>Copies per partition epoch: 2 (primary and replica) or 1.</summary>
    public int Replicas { get; set; }

    /// <summary>Every epoch of every partition. An epoch beyond 0 exists after a revive or split.</summary>
    public List<PartitionLocation> Locations { get; set; } = [];

    /// <summary>Names of the silos in <see cref="Locations"/>, by identity, for messages people read.</summary>
    public Dictionary<string, string> SiloNames { get; set; } = [];

    /// <summary>The attempt that ended first for each map, or -1 while the map has not ended.</summary>
    public int[] WinningAttempts { get; set; } = [];

    public int EndedMaps { get; set; }

    /// <summary>Set once every partition epoch has a committed copy.</summary>
    public ReducerFileGroup? Committed { get; set; }

    /// <summary>Set when commit found partitions with no committed copy (data lost).</summary>
    public string? CommitError { get; set; }

    [JsonIgnore]
    public bool AllMapsEnded => EndedMaps == NumMaps;

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

    /// <summary>The newest epoch of every partition, in partition order.</summary>
    public IReadOnlyList<PartitionLocation> CurrentLocations() =>
        Locations.GroupBy(l => l.PartitionId).Select(g => g.MaxBy(l => l.Epoch)).OrderBy(l => l.PartitionId).ToList();

    public string NameOf(SiloEndpoint silo) => SiloNames.GetValueOrDefault(silo.Identity, silo.Endpoint);

    /// <summary>Every silo that holds a copy of any epoch.</summary>
    public IEnumerable<SiloEndpoint> Silos() => Locations.SelectMany(l => l.Copies).DistinctBy(s => s.Identity);
}
