namespace Orleans.Shuffle.Job.Tasks;

/// <summary>Where a map task's records go: the grid's writer, or the local shuffle's files.</summary>
internal interface IMapOutput
{
    /// <summary>Takes the record now, or returns false when the output must catch up first (the grid writer's buffers are full).</summary>
    bool TryWrite(int partition, ReadOnlySpan<byte> record);

    /// <summary>Takes the record after <see cref="TryWrite"/> refused it, waiting as long as the output needs.</summary>
    ValueTask WriteAfterRefusalAsync(int partition, byte[] record, CancellationToken ct);
}

/// <summary>
/// What every map does whatever its output: generate its share of the records, partition them, tally
/// each partition's count and checksum, hand them to the output, and report progress and pause
/// points. Both shuffles share it, so they write exactly the same records to the same partitions
/// and the driver's expectations mean the same thing for both.
/// </summary>
internal static class MapRecords
{
    public static async Task<(PartitionChecksum[] Tallies, long Bytes)> GenerateAsync(
        MapTaskSettings s, IMapOutput output, TaskReporter reporter, CancellationToken ct)
    {
        var generator = new RecordGenerator(s.Seed, s.MapId, s.RecordSize, s.Values);
        var partitioner = new RecordPartitioner(s.NumPartitions, s.Skew);
        var tallies = new PartitionChecksum[s.NumPartitions];
        var record = new byte[s.RecordSize];

        long bytes = 0;
        await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
        for (long i = 0; i < s.Records; i++)
        {
            generator.NextRecord(record);
            int partition = partitioner.PartitionOf(record);
            tallies[partition].Add(record);
            if (!output.TryWrite(partition, record)) await output.WriteAfterRefusalAsync(partition, record, ct).ConfigureAwait(false);
            bytes += record.Length;
            // Mid-map: part of the output is written (on the grid, some of it may be in flight), the rest is still to come.
            await reporter.PauseIfDueAsync(bytes, ct).ConfigureAwait(false);
            if ((i & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
                reporter.Tick(bytes);
            }
        }
        return (tallies, bytes);
    }

    /// <summary>The non-empty partitions' tallies: with many partitions and few records most are empty.</summary>
    public static List<PartitionTally> NonEmpty(PartitionChecksum[] tallies)
    {
        var partitions = new List<PartitionTally>();
        for (int p = 0; p < tallies.Length; p++)
        {
            if (tallies[p].Records > 0) partitions.Add(PartitionTally.From(p, tallies[p]));
        }
        return partitions;
    }
}
