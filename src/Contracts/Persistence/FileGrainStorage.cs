using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Storage;

namespace Orleans.Shuffle.Persistence;

/// <summary>
/// The embedded grain storage: one JSON file per grain under a directory shared by the silos of one
/// machine (beside the membership table by default), each written under its lock file with an etag
/// check. A ShuffleGrain that re-activates on another silo reads what the dead one wrote.
/// </summary>
public sealed class FileGrainStorage(string root) : IGrainStorage
{
    public string Root { get; } = Path.GetFullPath(root);

    public static string PathBeside(string membershipFile) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(membershipFile))!, "grain-state");

    public Task<StoredState?> ReadStateAsync(string grainType, string grainId) => File(grainType, grainId).ReadAsync(doc =>
        doc.ETag is null ? null : new StoredState(doc.Data, doc.ETag));

    public Task<string> WriteStateAsync(string grainType, string grainId, ReadOnlyMemory<byte> data, string? expectedETag) =>
        File(grainType, grainId).UpdateAsync(doc =>
        {
            Check(doc, grainType, grainId, expectedETag);
            doc.ETag = ((long.TryParse(doc.ETag, out long n) ? n : 0) + 1).ToString();
            doc.Data = data.ToArray();
            return (doc.ETag, true);
        });

    public Task ClearStateAsync(string grainType, string grainId, string? expectedETag) =>
        File(grainType, grainId).UpdateAsync(doc =>
        {
            Check(doc, grainType, grainId, expectedETag);
            doc.ETag = null;
            doc.Data = [];
            return (true, true);
        });

    private static void Check(StateDocument doc, string grainType, string grainId, string? expectedETag)
    {
        if (doc.ETag != expectedETag)
            throw new InconsistentStateException($"State of {grainType}/{grainId} has etag {doc.ETag ?? "none"}, not {expectedETag ?? "none"}: another activation wrote it.");
    }

    private LockedJsonFile<StateDocument> File(string grainType, string grainId)
    {
        // Both names reach the file system: accept only the id alphabet.
        if (!IdValidator.IsValidAppId(grainType) || !IdValidator.IsValidAppId(grainId))
            throw new ArgumentException($"Invalid grain type or id: {grainType}/{grainId}.");
        return new LockedJsonFile<StateDocument>(Path.Combine(Root, grainType, grainId + ".json"), () => new StateDocument());
    }

    private sealed class StateDocument
    {
        public string? ETag { get; set; }

        public byte[] Data { get; set; } = [];
    }
}
