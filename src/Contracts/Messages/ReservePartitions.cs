using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>The role of a PartitionGrain: the primary takes pushes and forwards them; the replica takes forwarded batches.</summary>
public enum PartitionRole : byte
{
    Primary = 0,
    Replica = 1,
}

/// <summary>One partition epoch to activate on the receiving silo, its role, and its peer (the other copy's silo, if any).</summary>
public sealed record PartitionReservation(int PartitionId, int Epoch, PartitionRole Role, SiloEndpoint? Peer);

/// <summary>ReservePartitions: activate these partition epochs on the receiving silo.</summary>
public sealed record ReservePartitions(string AppId, int ShuffleId, IReadOnlyList<PartitionReservation> Partitions) : IWireMessage<ReservePartitions>
{
    public void Write(WireWriter writer)
    {
        writer.WriteString(AppId);
        writer.WriteInt32(ShuffleId);
        writer.WriteInt32(Partitions.Count);
        foreach (var p in Partitions)
        {
            writer.WriteInt32(p.PartitionId);
            writer.WriteInt32(p.Epoch);
            writer.WriteByte((byte)p.Role);
            SiloEndpoint.WriteOptional(writer, p.Peer);
        }
    }

    public static ReservePartitions Read(ref WireReader reader)
    {
        string app = reader.ReadString();
        int shuffle = reader.ReadInt32();
        int count = reader.ReadCount(IdValidator.MaxPartitions, 10);
        var list = new PartitionReservation[count];
        for (int i = 0; i < count; i++)
        {
            int partition = reader.ReadInt32();
            int epoch = reader.ReadInt32();
            byte role = reader.ReadByte();
            if (role > (byte)PartitionRole.Replica) throw WireReader.Malformed($"partition role {role}");
            list[i] = new PartitionReservation(partition, epoch, (PartitionRole)role, SiloEndpoint.ReadOptional(ref reader));
        }
        return new ReservePartitions(app, shuffle, list);
    }
}
