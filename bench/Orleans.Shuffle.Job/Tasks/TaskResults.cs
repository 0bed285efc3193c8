using Orleans.Shuffle.Job;

namespace Orleans.Shuffle.Job.Tasks;

/// <summary>One partition's records as a task saw them; the checksum travels as hex (see <see cref="PartitionChecksum.SumHex"/>).</summary>
public sealed record PartitionTally(int Partition, long Records, long Bytes, string Checksum)
{
    public static PartitionTally From(int partition, PartitionChecksum checksum) =>
        new(partition, checksum.Records, checksum.Bytes, checksum.SumHex);

    public PartitionChecksum ToChecksum() => new(Records, Bytes, PartitionChecksum.ParseSum(Checksum));
}

/// <summary>What a map task generated (per partition) and what its writer reported.</summary>
public sealed record MapTaskResult(
    int MapId,
    int AttemptId,
    long Records,
    long Bytes,
    bool Won,
    int WinningAttempt,
    bool AllMapsEnded,
    long RecordsWritten,
    long BytesWritten,
    long BatchesPushed,
    long PushRequests,
    double Seconds,
    IReadOnlyList<PartitionTally> Partitions,
    long Revives = 0,
    long PayloadBytes = 0,
    long StoredPayloadBytes = 0);

/// <summary>What a reduce task read (per partition) and what its readers reported.</summary>
public sealed record ReduceTaskResult(
    int ReducerId,
    long Records,
    long Bytes,
    long BatchesRead,
    long DuplicateBatchesSkipped,
    long LosingAttemptBatchesSkipped,
    long BytesFetched,
    double Seconds,
    IReadOnlyList<PartitionTally> Partitions,
    long Failovers = 0);

/// <summary>
/// Why a task failed, when the grid said so: the error code's name, the message, and the partitions
/// the task was handling (a reducer names the partition it was reading).
/// </summary>
public sealed record TaskError(string Code, string Message, IReadOnlyList<int> Partitions);
