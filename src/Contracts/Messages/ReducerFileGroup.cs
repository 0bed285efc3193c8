using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>A committed partition epoch and where to read it.</summary>
public sealed record CommittedLocation(PartitionLocation Location, CommittedFile File);

/// <summary>
/// The reply to GetReducerFileGroup: the winning attempt of every map and every committed
/// location, so a reducer can read each partition exactly once.
/// </summary>
public sealed record ReducerFileGroup(int NumMaps, int NumPartitions, int[] WinningAttempts, IReadOnlyList<CommittedLocation> Locations)
    : IWireMessage<ReducerFileGroup>
{
    public IEnumerable<CommittedLocation> LocationsOf(int partitionId) => Locations.Where(l => l.Location.PartitionId == partitionId);

    public void Write(WireWriter writer)
    {
        writer.WriteInt32(NumMaps);
        writer.WriteInt32(NumPartitions);
        foreach (int attempt in WinningAttempts) writer.WriteInt32(attempt);
        writer.WriteInt32(Locations.Count);
        foreach (var l in Locations)
        {
            l.Location.Write(writer);
            l.File.Write(writer);
        }
    }

    public static ReducerFileGroup Read(ref WireReader reader)
    {
        int maps = reader.ReadInt32();
        int partitions = reader.ReadInt32();
        if (maps < 1 || maps > IdValidator.MaxMaps || partitions < 1 || partitions > IdValidator.MaxPartitions || (long)maps * 4 > reader.Remaining)
            throw WireReader.Malformed("file group shape out of range");
        var winners = new int[maps];
        for (int i = 0; i < maps; i++) winners[i] = reader.ReadInt32();
        int count = reader.ReadCount(IdValidator.MaxPartitions * 16, PartitionLocation.MinWireBytes + 28);
        var locations = new CommittedLocation[count];
        for (int i = 0; i < count; i++) locations[i] = new CommittedLocation(PartitionLocation.Read(ref reader), CommittedFile.Read(ref reader));
        return new ReducerFileGroup(maps, partitions, winners, locations);
    }
}
