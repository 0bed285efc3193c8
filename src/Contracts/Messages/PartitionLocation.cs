using System.Text.Json.Serialization;
using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>
/// Where one epoch of a partition lives: the primary PartitionGrain's silo, which takes pushes,
/// and the replica's silo, which the primary forwards every batch to (none when replicas = 1).
/// </summary>
public readonly record struct PartitionLocation(int PartitionId, int Epoch, SiloEndpoint Primary, SiloEndpoint? Replica = null)
{
    public const int MinWireBytes = 4 + 4 + SiloEndpoint.MinWireBytes + 1;

    [JsonIgnore]
    public string SiloIdentity => Primary.Identity;

    [JsonIgnore]
    public string Host => Primary.Host;

    [JsonIgnore]
    public int Port => Primary.Port;

    /// <summary>The copies of this epoch, primary first.</summary>
    [JsonIgnore]
    public IEnumerable<SiloEndpoint> Copies => Replica is null ? [Primary] : [Primary, Replica];

    public void Write(WireWriter writer)
    {
        writer.WriteInt32(PartitionId);
        writer.WriteInt32(Epoch);
        Primary.Write(writer);
        SiloEndpoint.WriteOptional(writer, Replica);
    }

    public static PartitionLocation Read(ref WireReader reader)
    {
        int partition = reader.ReadInt32();
        int epoch = reader.ReadInt32();
        if (partition < 0 || epoch < 0) throw WireReader.Malformed("partition location out of range");
        return new PartitionLocation(partition, epoch, SiloEndpoint.Read(ref reader), SiloEndpoint.ReadOptional(ref reader));
    }
}

/// <summary>The reply to RegisterShuffle and Revive: one location per partition asked about.</summary>
public sealed record ShuffleLocations(IReadOnlyList<PartitionLocation> Locations) : IWireMessage<ShuffleLocations>
{
    public void Write(WireWriter writer)
    {
        writer.WriteInt32(Locations.Count);
        foreach (var location in Locations) location.Write(writer);
    }

    public static ShuffleLocations Read(ref WireReader reader)
    {
        int count = reader.ReadCount(IdValidator.MaxPartitions, PartitionLocation.MinWireBytes);
        var list = new PartitionLocation[count];
        for (int i = 0; i < count; i++) list[i] = PartitionLocation.Read(ref reader);
        return new ShuffleLocations(list);
    }
}
