using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Client;

/// <summary>One non-empty chunk of one committed epoch of a partition, in reading order.</summary>
internal readonly record struct ChunkRef(CommittedLocation Location, int ChunkIndex, long ExpectedBytes)
{
    /// <summary>
    /// The non-empty chunks of every committed epoch of <paramref name="partitionId"/>, epochs in
    /// order and chunks in order within each epoch.
    /// </summary>
    public static List<ChunkRef> PlanFor(IndexedFileGroup group, int partitionId)
    {
        var plan = new List<ChunkRef>();
        foreach (var location in group.LocationsOf(partitionId))
        {
            var offsets = location.File.ChunkOffsets;
            for (int chunk = 0; chunk < location.File.ChunkCount; chunk++)
            {
                long bytes = offsets[chunk + 1] - offsets[chunk];
                if (bytes > 0) plan.Add(new ChunkRef(location, chunk, bytes));
            }
        }
        return plan;
    }
}
