using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>
/// The reply to PushData and ReplicateData: every batch was stored; the partition epochs listed have
/// reached the split threshold, so the client should revive them (ask for epoch + 1) and push later
/// batches there. Usually empty.
/// </summary>
public sealed record PushReply(IReadOnlyList<PartitionRef> Splits) : IWireMessage<PushReply>
{
    public static PushReply None { get; } = new([]);

    public void Write(WireWriter writer)
    {
        writer.WriteInt32(Splits.Count);
        foreach (var p in Splits)
        {
            writer.WriteInt32(p.PartitionId);
            writer.WriteInt32(p.Epoch);
        }
    }

    public static PushReply Read(ref WireReader reader)
    {
        int count = reader.ReadCount(IdValidator.MaxPartitions, 8);
        if (count == 0) return None;
        var splits = new PartitionRef[count];
        for (int i = 0; i < count; i++) splits[i] = new PartitionRef(reader.ReadInt32(), reader.ReadInt32());
        return new PushReply(splits);
    }
}
