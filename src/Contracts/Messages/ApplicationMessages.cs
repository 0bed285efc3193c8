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

/// <summary>Registers a shuffle lazily and idempotently; the reply lists its push locations.</summary>
public readonly record struct RegisterShuffle(string AppId, int ShuffleId, int NumMaps, int NumPartitions) : IWireMessage<RegisterShuffle>
{
    public void Write(WireWriter writer)
    {
        writer.WriteString(AppId);
        writer.WriteInt32(ShuffleId);
        writer.WriteInt32(NumMaps);
        writer.WriteInt32(NumPartitions);
    }

    public static RegisterShuffle Read(ref WireReader reader) =>
        new(reader.ReadString(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
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
