using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>
/// The fixed part of a PushData or ReplicateData body (<see cref="PushData"/>) as a message of its
/// own: senders serialize it into the frame and send the entries after it from the buffers they are
/// already in, instead of copying them into the frame.
/// </summary>
public readonly record struct PushDataHeader(string AppId, int ShuffleId, int EntryCount) : IWireMessage<PushDataHeader>
{
    public void Write(WireWriter writer) => PushData.WriteHeader(writer, AppId, ShuffleId, EntryCount);

    public static PushDataHeader Read(ref WireReader reader)
    {
        var (appId, shuffleId, entryCount) = PushData.ReadHeader(ref reader);
        return new PushDataHeader(appId, shuffleId, entryCount);
    }
}
