using System.Globalization;
using Orleans.Shuffle.Ids;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>
/// The key of a PartitionGrain: "{appId}/{shuffleId}/{partitionId}/{epoch}/{copy}". Application ids
/// never contain '/', so the key parses back unambiguously. Copy 0 is the primary, 1 the replica.
/// </summary>
public readonly record struct PartitionGrainKey(PartitionKey Partition, int Copy)
{
    public const int PrimaryCopy = 0;
    public const int ReplicaCopy = 1;

    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"{Partition.AppId}/{Partition.ShuffleId}/{Partition.PartitionId}/{Partition.Epoch}/{Copy}");

    public override string ToString() => $"{Partition}#{Copy}";

    /// <summary>Parses a grain key; false for anything that is not one (a grain called with a made-up key).</summary>
    public static bool TryParse(string key, out PartitionGrainKey parsed)
    {
        parsed = default;
        var parts = key.Split('/');
        if (parts.Length != 5 || !IdValidator.IsValidAppId(parts[0])) return false;
        if (!TryParseNumber(parts[1], out int shuffle) || !TryParseNumber(parts[2], out int partition)
            || !TryParseNumber(parts[3], out int epoch) || !TryParseNumber(parts[4], out int copy))
            return false;
        if (partition >= IdValidator.MaxPartitions || copy is not (PrimaryCopy or ReplicaCopy)) return false;
        parsed = new PartitionGrainKey(new PartitionKey(parts[0], shuffle, partition, epoch), copy);
        return true;
    }

    private static bool TryParseNumber(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
