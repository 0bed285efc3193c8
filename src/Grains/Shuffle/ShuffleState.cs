using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>What the ShuffleGrain knows of one shuffle: its shape, locations, map winners and commit.</summary>
internal sealed class ShuffleState
{
    public ShuffleState(int shuffleId, int numMaps, int numPartitions, IReadOnlyList<PartitionLocation> locations, IEnumerable<SiloInfo> silos)
    {
        ShuffleId = shuffleId;
        NumMaps = numMaps;
        NumPartitions = numPartitions;
        Locations = [.. locations];
        Silos = silos.DistinctBy(s => s.Identity).ToDictionary(s => s.Identity);
        WinningAttempts = Enumerable.Repeat(-1, numMaps).ToArray();
    }

    public int ShuffleId { get; }

    public int NumMaps { get; }

    public int NumPartitions { get; }

    /// <summary>Every epoch of every partition; epochs beyond 0 come with replicas and splits.</summary>
    public List<PartitionLocation> Locations { get; }

    /// <summary>The silos that host this shuffle's partitions, by identity.</summary>
    public Dictionary<string, SiloInfo> Silos { get; }

    /// <summary>The attempt that ended first for each map, or -1 while the map has not ended.</summary>
    public int[] WinningAttempts { get; }

    public int EndedMaps { get; set; }

    /// <summary>Started when the last map ends; reducers await it.</summary>
    public Task<ReducerFileGroup>? Commit { get; set; }

    public bool AllMapsEnded => EndedMaps == NumMaps;
}
