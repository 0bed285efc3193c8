using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>One committed copy of a partition epoch: the silo that holds it and what it committed.</summary>
public sealed record CommittedCopy(SiloEndpoint Silo, CommittedFile File);

/// <summary>
/// A committed partition epoch and the copies to read it from, primary first. Copies hold the same
/// batches but may order them differently, so a reader that switches copies starts the epoch again
/// and drops the batches it already returned.
/// </summary>
public sealed record CommittedLocation(PartitionLocation Location, IReadOnlyList<CommittedCopy> Copies);

/// <summary>
/// The reply to GetReducerFileGroup: the winning attempt of every map and every committed
/// location, so a reducer can read each partition exactly once.
/// </summary>
public sealed record ReducerFileGroup(int NumMaps, int NumPartitions, int[] WinningAttempts, IReadOnlyList<CommittedLocation> Locations)
    : IWireMessage<ReducerFileGroup>
{
    /// <summary>Copies of one epoch: primary and replica.</summary>
    public const int MaxCopies = 2;

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
            writer.WriteInt32(l.Copies.Count);
            foreach (var copy in l.Copies)
            {
                copy.Silo.Write(writer);
                copy.File.Write(writer);
            }
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
        int count = reader.ReadCount(IdValidator.MaxPartitions * 16, PartitionLocation.MinWireBytes + 4);
        var locations = new CommittedLocation[count];
        for (int i = 0; i < count; i++)
        {
            var location = PartitionLocation.Read(ref reader);
            int copies = reader.ReadCount(MaxCopies, SiloEndpoint.MinWireBytes + 28);
            if (copies == 0) throw WireReader.Malformed("committed location without a copy");
            var list = new CommittedCopy[copies];
            for (int c = 0; c < copies; c++) list[c] = new CommittedCopy(SiloEndpoint.Read(ref reader), CommittedFile.Read(ref reader));
            locations[i] = new CommittedLocation(location, list);
        }
        return new ReducerFileGroup(maps, partitions, winners, locations);
    }
}
