using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

public readonly record struct PartitionRef(int PartitionId, int Epoch);

/// <summary>ReservePartitions and CommitPartitions: some partition epochs of one shuffle, on the receiving silo.</summary>
public sealed record PartitionRefs(string AppId, int ShuffleId, IReadOnlyList<PartitionRef> Partitions) : IWireMessage<PartitionRefs>
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
        }
    }

    public static PartitionRefs Read(ref WireReader reader)
    {
        string app = reader.ReadString();
        int shuffle = reader.ReadInt32();
        int count = reader.ReadCount(IdValidator.MaxPartitions, 8);
        var list = new PartitionRef[count];
        for (int i = 0; i < count; i++) list[i] = new PartitionRef(reader.ReadInt32(), reader.ReadInt32());
        return new PartitionRefs(app, shuffle, list);
    }
}
