using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>
/// PushData carries batches of several partitions bound for one silo (a merged push):
/// <code>
/// string appId, i32 shuffleId, i32 entryCount,
/// entryCount x { i32 partitionId, i32 epoch, i32 batchLength, batch (28-byte header + payload) }
/// </code>
/// The silo answers with an empty body once every batch is buffered, or with an error naming the
/// first entry it refused. Batches before it were kept, so a client that retries the whole push
/// creates duplicates, which readers drop by (map, attempt, batch).
/// </summary>
public static class PushData
{
    public const int EntryHeaderBytes = 12;

    public static void WriteHeader(WireWriter writer, string appId, int shuffleId, int entryCount)
    {
        writer.WriteString(appId);
        writer.WriteInt32(shuffleId);
        writer.WriteInt32(entryCount);
    }

    /// <summary>Reads the fixed part of the body; the entries follow.</summary>
    /// <param name="appIds">The connection's cache of app ids, so a repeated one is not a new string per push.</param>
    public static (string AppId, int ShuffleId, int EntryCount) ReadHeader(ref WireReader reader, Utf8StringCache? appIds = null)
    {
        string appId = reader.ReadString(appIds);
        int shuffleId = reader.ReadInt32();
        int count = reader.ReadCount(IdValidator.MaxPartitions, EntryHeaderBytes);
        return (appId, shuffleId, count);
    }
}
