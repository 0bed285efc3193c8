using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>Where one epoch of a partition lives: the PartitionGrain's silo and its grid endpoint.</summary>
public readonly record struct PartitionLocation(int PartitionId, int Epoch, string SiloIdentity, string Host, int Port)
{
    public const int MinWireBytes = 4 + 4 + 2 + 2 + 4;

    public void Write(WireWriter writer)
    {
        writer.WriteInt32(PartitionId);
        writer.WriteInt32(Epoch);
        writer.WriteString(SiloIdentity);
        writer.WriteString(Host);
        writer.WriteInt32(Port);
    }

    public static PartitionLocation Read(ref WireReader reader)
    {
        var location = new PartitionLocation(reader.ReadInt32(), reader.ReadInt32(), reader.ReadString(), reader.ReadString(), reader.ReadInt32());
        if (location.PartitionId < 0 || location.Epoch < 0 || location.Port is < 0 or > 65535)
            throw WireReader.Malformed("partition location out of range");
        return location;
    }
}

/// <summary>The reply to RegisterShuffle: one location per partition.</summary>
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
