namespace Orleans.Shuffle.Wire;

/// <summary>
/// Every request type of protocol version 1. A response carries the type of its request with
/// <see cref="FrameFlags.Response"/> set. Numbers are stable: never reuse one. See docs/protocol.md.
/// </summary>
public enum MessageType : ushort
{
    // Connection.
    Hello = 1,
    Ping = 2,
    GetClusterView = 3,

    // Driver and executor control; served by the application's ShuffleGrain.
    RegisterApplication = 10,
    ApplicationHeartbeat = 11,
    UnregisterApplication = 12,
    RegisterShuffle = 13,
    MapperEnd = 14,
    GetReducerFileGroup = 15,
    UnregisterShuffle = 16,
    Revive = 17,

    // Data path; served by the silo hosting the PartitionGrain.
    PushData = 20,
    FetchChunk = 21,

    /// <summary>A primary forwarding pushed batches to its replica; same body as PushData.</summary>
    ReplicateData = 22,

    // Silo to silo.
    ReservePartitions = 30,
    CommitPartitions = 31,
    DestroyShuffle = 32,
    GetSiloStats = 33,

    /// <summary>"The membership table changed": the receiver re-reads it now instead of at its next period (Orleans' gossip).</summary>
    MembershipGossip = 34,
}

public static class MessageTypes
{
    /// <summary>True for requests that a ShuffleGrain answers, so a gateway forwards them to the grain's silo.</summary>
    public static bool IsShuffleGrainRequest(MessageType type) => type is >= MessageType.RegisterApplication and <= MessageType.Revive;

    public static bool IsKnown(MessageType type) => Enum.IsDefined(type);
}
