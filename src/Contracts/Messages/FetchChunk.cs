using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>
/// Reads one chunk of a committed partition epoch. Only batches whose map id is in
/// [StartMap, EndMap) are returned, so a reducer of a skewed partition can read a map range.
/// The reply body is the chunk's batches, back to back, in the batch format.
/// </summary>
public readonly record struct FetchChunk(string AppId, int ShuffleId, int PartitionId, int Epoch, int ChunkIndex, int StartMap, int EndMap)
    : IWireMessage<FetchChunk>
{
    public bool IsFullRange => StartMap <= 0 && EndMap == int.MaxValue;

    public void Write(WireWriter writer)
    {
        writer.WriteString(AppId);
        writer.WriteInt32(ShuffleId);
        writer.WriteInt32(PartitionId);
        writer.WriteInt32(Epoch);
        writer.WriteInt32(ChunkIndex);
        writer.WriteInt32(StartMap);
        writer.WriteInt32(EndMap);
    }

    public static FetchChunk Read(ref WireReader reader) => new(
        reader.ReadString(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
}
