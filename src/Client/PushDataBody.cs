using System.Buffers;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// The body of a merged PushData: the fixed header of <see cref="PushData"/>, then entries that are
/// already laid out in the writer's pooled buffers and are written as they are.
/// </summary>
internal readonly struct PushDataBody(string appId, int shuffleId, int entryCount, ReadOnlySequence<byte> entries) : IWireMessage<PushDataBody>
{
    public string AppId { get; } = appId;

    public int ShuffleId { get; } = shuffleId;

    public int EntryCount { get; } = entryCount;

    /// <summary>entryCount x { i32 partitionId, i32 epoch, i32 batchLength, batch }.</summary>
    public ReadOnlySequence<byte> Entries { get; } = entries;

    /// <summary>The header alone, for sending the entries from their own buffers.</summary>
    public PushDataHeader Head => new(AppId, ShuffleId, EntryCount);

    public void Write(WireWriter writer)
    {
        PushData.WriteHeader(writer, AppId, ShuffleId, EntryCount);
        writer.WriteRaw(Entries);
    }

    public static PushDataBody Read(ref WireReader reader)
    {
        var (appId, shuffleId, entryCount) = PushData.ReadHeader(ref reader);
        return new PushDataBody(appId, shuffleId, entryCount, reader.ReadToEnd());
    }
}
