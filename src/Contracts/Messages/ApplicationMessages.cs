using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>RegisterApplication, ApplicationHeartbeat, UnregisterApplication: the application id alone.</summary>
public readonly record struct AppRequest(string AppId) : IWireMessage<AppRequest>
{
    public void Write(WireWriter writer) => writer.WriteString(AppId);

    public static AppRequest Read(ref WireReader reader) => new(reader.ReadString());
}

/// <summary>
/// GetReducerFileGroup, UnregisterShuffle and DestroyShuffle: one shuffle of one application.
/// DestroyShuffle takes <see cref="AllShuffles"/> to mean every shuffle of the application.
/// </summary>
public readonly record struct ShuffleRequest(string AppId, int ShuffleId) : IWireMessage<ShuffleRequest>
{
    public const int AllShuffles = -1;

    public void Write(WireWriter writer)
    {
        writer.WriteString(AppId);
        writer.WriteInt32(ShuffleId);
    }

    public static ShuffleRequest Read(ref WireReader reader) => new(reader.ReadString(), reader.ReadInt32());
}

/// <summary>
/// Registers a shuffle lazily and idempotently; the reply lists its push locations. Replicas is the
/// number of copies of each partition: 2 (a primary and a peer replica) or 1 (no replica).
/// </summary>
public readonly record struct RegisterShuffle(string AppId, int ShuffleId, int NumMaps, int NumPartitions, int Replicas = 2) : IWireMessage<RegisterShuffle>
{
    public void Write(WireWriter writer)
    {
        writer.WriteString(AppId);
        writer.WriteInt32(ShuffleId);
        writer.WriteInt32(NumMaps);
        writer.WriteInt32(NumPartitions);
        writer.WriteInt32(Replicas);
    }

    public static RegisterShuffle Read(ref WireReader reader) =>
        new(reader.ReadString(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
}

/// <summary>
/// Asks the ShuffleGrain for a new location (epoch + 1) of partitions whose pushes failed, or that
/// a silo asked to split. Silos in ExcludedSilos (identities) are not chosen. If another client
/// already revived a partition past FailedEpoch, its current location is returned instead.
/// </summary>
public sealed record Revive(string AppId, int ShuffleId, IReadOnlyList<PartitionRef> Partitions, IReadOnlyList<string> ExcludedSilos) : IWireMessage<Revive>
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
        writer.WriteInt32(ExcludedSilos.Count);
        foreach (string silo in ExcludedSilos) writer.WriteString(silo);
    }

    public static Revive Read(ref WireReader reader)
    {
        string app = reader.ReadString();
        int shuffle = reader.ReadInt32();
        int count = reader.ReadCount(Ids.IdValidator.MaxPartitions, 8);
        var partitions = new PartitionRef[count];
        for (int i = 0; i < count; i++) partitions[i] = new PartitionRef(reader.ReadInt32(), reader.ReadInt32());
        int excluded = reader.ReadCount(10_000, 2);
        var silos = new string[excluded];
        for (int i = 0; i < excluded; i++) silos[i] = reader.ReadString();
        return new Revive(app, shuffle, partitions, silos);
    }
}

/// <summary>A map attempt has pushed everything it will push.</summary>
public readonly record struct MapperEnd(string AppId, int ShuffleId, int MapId, int AttemptId) : IWireMessage<MapperEnd>
{
    public void Write(WireWriter writer)
    {
        writer.WriteString(AppId);
        writer.WriteInt32(ShuffleId);
        writer.WriteInt32(MapId);
        writer.WriteInt32(AttemptId);
    }

    public static MapperEnd Read(ref WireReader reader) =>
        new(reader.ReadString(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
}

/// <summary>Whether this attempt won its map (the first attempt to end wins), and whether every map has ended.</summary>
public readonly record struct MapperEndReply(bool Won, int WinningAttempt, bool AllMapsEnded) : IWireMessage<MapperEndReply>
{
    public void Write(WireWriter writer)
    {
        writer.WriteBool(Won);
        writer.WriteInt32(WinningAttempt);
        writer.WriteBool(AllMapsEnded);
    }

    public static MapperEndReply Read(ref WireReader reader) => new(reader.ReadBool(), reader.ReadInt32(), reader.ReadBool());
}
