using System.Text.Json.Serialization;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>
/// What a PartitionGrain records when it commits: the file's size, how many batches it holds, a
/// CRC32C of its bytes in order, and the chunk boundaries readers fetch by (offsets[i] to offsets[i+1]).
/// </summary>
public sealed record CommittedFile(long Bytes, int BatchCount, uint Crc32C, long[] ChunkOffsets)
{
    public const int MaxChunks = 1 << 20;

    [JsonIgnore]
    public int ChunkCount => ChunkOffsets.Length - 1;

    public static CommittedFile Empty { get; } = new(0, 0, 0, [0]);

    public void Write(WireWriter writer)
    {
        writer.WriteInt64(Bytes);
        writer.WriteInt32(BatchCount);
        writer.WriteUInt32(Crc32C);
        writer.WriteInt32(ChunkOffsets.Length);
        foreach (long offset in ChunkOffsets) writer.WriteInt64(offset);
    }

    public static CommittedFile Read(ref WireReader reader)
    {
        long bytes = reader.ReadInt64();
        int batches = reader.ReadInt32();
        uint crc = reader.ReadUInt32();
        int count = reader.ReadCount(MaxChunks + 1, 8);
        if (count < 1 || bytes < 0 || batches < 0) throw WireReader.Malformed("committed file out of range");
        var offsets = new long[count];
        for (int i = 0; i < count; i++)
        {
            offsets[i] = reader.ReadInt64();
            if (offsets[i] < 0 || offsets[i] > bytes || (i > 0 && offsets[i] < offsets[i - 1]))
                throw WireReader.Malformed("chunk offsets out of order");
        }
        if (offsets[0] != 0 || offsets[^1] != bytes) throw WireReader.Malformed("chunk offsets do not cover the file");
        return new CommittedFile(bytes, batches, crc, offsets);
    }
}

/// <summary>One committed epoch of a partition.</summary>
public sealed record CommittedPartition(int PartitionId, int Epoch, CommittedFile File)
{
    public void Write(WireWriter writer)
    {
        writer.WriteInt32(PartitionId);
        writer.WriteInt32(Epoch);
        File.Write(writer);
    }

    public static CommittedPartition Read(ref WireReader reader) => new(reader.ReadInt32(), reader.ReadInt32(), CommittedFile.Read(ref reader));
}

/// <summary>The reply to CommitPartitions.</summary>
public sealed record CommitReply(IReadOnlyList<CommittedPartition> Partitions) : IWireMessage<CommitReply>
{
    public void Write(WireWriter writer)
    {
        writer.WriteInt32(Partitions.Count);
        foreach (var p in Partitions) p.Write(writer);
    }

    public static CommitReply Read(ref WireReader reader)
    {
        int count = reader.ReadCount(Ids.IdValidator.MaxPartitions, 28);
        var list = new CommittedPartition[count];
        for (int i = 0; i < count; i++) list[i] = CommittedPartition.Read(ref reader);
        return new CommitReply(list);
    }
}
