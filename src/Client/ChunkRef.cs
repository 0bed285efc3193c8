using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Client;

/// <summary>One non-empty chunk of one committed copy of a partition epoch, in reading order.</summary>
internal readonly record struct ChunkRef(SiloEndpoint Silo, int Epoch, int ChunkIndex, long ExpectedBytes)
{
    /// <summary>
    /// The non-empty chunks of one copy of an epoch, in order. Copies of an epoch hold the same
    /// batches but not in the same order, so chunk boundaries are those of the copy read.
    /// </summary>
    public static List<ChunkRef> PlanFor(CommittedCopy copy, int epoch)
    {
        var offsets = copy.File.ChunkOffsets;
        var plan = new List<ChunkRef>(copy.File.ChunkCount);
        for (int chunk = 0; chunk < copy.File.ChunkCount; chunk++)
        {
            long bytes = offsets[chunk + 1] - offsets[chunk];
            if (bytes > 0) plan.Add(new ChunkRef(copy.Silo, epoch, chunk, bytes));
        }
        return plan;
    }
}
