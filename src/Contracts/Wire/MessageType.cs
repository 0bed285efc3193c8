namespace Orleans.Shuffle.Wire;

/// <summary>
/// Every request type of the data plane, protocol version 4. Control calls (registering, placing,
/// committing, reviving, file groups) are grain calls, not messages. A response carries the type of
/// its request with <see cref="FrameFlags.Response"/> set. Numbers are stable: never reuse one
/// (2, 3, 10-17 and 30-34 were version 1's Ping and control messages). See docs/protocol.md.
/// </summary>
public enum MessageType : ushort
{
    /// <summary>The first frame of every connection.</summary>
    Hello = 1,

    /// <summary>Proves an application's or the cluster's key over the connection's challenge (version 4).</summary>
    Authenticate = 4,

    /// <summary>A client pushing batches to the primaries on this silo.</summary>
    PushData = 20,

    /// <summary>A reader fetching one chunk of a committed partition copy.</summary>
    FetchChunk = 21,

    /// <summary>A primary forwarding pushed batches to its replica; same body as PushData.</summary>
    ReplicateData = 22,
}
