namespace Orleans.Shuffle.Client;

/// <summary>
/// Where a writer sends the batches of a partition: the epoch it writes into entry headers and the
/// silo of that epoch's primary. Immutable and replaced whole when the partition is revived, so a
/// sealing writer never sees one epoch with another epoch's silo. Partitions with the same epoch and
/// silo share one instance.
/// </summary>
internal sealed class PartitionRoute(int epoch, SiloPushTarget target)
{
    public int Epoch { get; } = epoch;

    public SiloPushTarget Target { get; } = target;
}
