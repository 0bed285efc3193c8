using System.Text;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;
using static Orleans.Shuffle.Tests.Client.CommittedCopies;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>The reader's failover between the committed copies of an epoch, against fake silos.</summary>
public class ShuffleReaderFailoverTests
{
    private static readonly SiloEndpoint SiloA = new("silo-a@1", "silo-a", "a", 1);
    private static readonly SiloEndpoint SiloB = new("silo-b@2", "silo-b", "b", 2);

    /// <summary>Epoch 0: maps 0 and 1, three batches each, two records per batch.</summary>
    private static readonly byte[][] Epoch0 =
    [
        .. Enumerable.Range(0, 2).SelectMany(map => Enumerable.Range(0, 3).Select(b => Batch(map, 0, b, $"m{map}b{b}x", $"m{map}b{b}y"))),
    ];

    /// <summary>Epoch 1: map 0's last batch, and map 1's batch 2 again (stored in two epochs after a resend).</summary>
    private static readonly byte[][] Epoch1 = [Batch(0, 0, 3, "m0b3x", "m0b3y"), Batch(1, 0, 2, "m1b2x", "m1b2y")];

    private static readonly string[] Expected =
        [.. Epoch0.SelectMany(Records), "m0b3x", "m0b3y"];

    /// <summary>
    /// Epoch 0 has copy 0 on A (batches in order, 2 per chunk: 3 chunks) and copy 1 on B (the same
    /// batches reversed, 4 per chunk: 2 chunks); epoch 1 has one copy on A. Every chunk is served
    /// unless <paramref name="breakCopies"/> replaces some.
    /// </summary>
    private static (FakeChunkSource Source, ShuffleReader Reader) Setup(
        Action<FakeChunkSource, byte[][], byte[][]>? breakCopies = null, int? copy0Batches = null, int? copy0Claims = null)
    {
        var (copyA, chunksA) = Make(SiloA, Epoch0.Take(copy0Batches ?? Epoch0.Length).ToArray(), 2, copy0Claims);
        var (copyB, chunksB) = Make(SiloB, Epoch0.Reverse().ToArray(), 4);
        var (copyA1, chunksA1) = Make(SiloA, Epoch1, 2);
        var group = new ReducerFileGroup(2, 1, [0, 0],
        [
            new CommittedLocation(new PartitionLocation(0, 1, SiloA), [copyA1]),
            new CommittedLocation(new PartitionLocation(0, 0, SiloA, SiloB), [copyA, copyB]),
        ]);
        var source = new FakeChunkSource(new IndexedFileGroup(group));
        ServeAll(source, copyA, 0, chunksA);
        ServeAll(source, copyB, 0, chunksB);
        ServeAll(source, copyA1, 1, chunksA1);
        breakCopies?.Invoke(source, chunksA, chunksB);
        return (source, new ShuffleReader(source, "app", 7, partitionId: 0, startMap: 0, endMap: int.MaxValue, chunksInFlight: 3));
    }

    private static async Task<List<string>> ReadAllAsync(ShuffleReader reader)
    {
        var records = new List<string>();
        await foreach (var record in reader.ReadRecordsAsync()) records.Add(Encoding.UTF8.GetString(record.Span));
        return records;
    }

    [Fact]
    public async Task Without_failures_copy_0_alone_is_read()
    {
        var (source, reader) = Setup();
        var records = await ReadAllAsync(reader);

        Assert.Equal(Expected, records);
        Assert.Equal(0, reader.Failovers);
        Assert.DoesNotContain(source.Fetches, f => f.Host == "b");
        Assert.Equal(1, reader.DuplicateBatchesSkipped);
        Assert.Equal(0, source.Outstanding);
        Assert.Empty(source.Confirms);
    }

    [Fact]
    public async Task When_copy_0_fails_mid_epoch_copy_1_is_read_from_its_first_chunk_and_each_record_is_returned_once()
    {
        // Chunk 1 of copy 0 is lost for good (every fetch retry too); chunk 0 was returned already.
        var (source, reader) = Setup((s, _, _) => s.Serve(SiloA, 0, 1, () => throw new GridException(GridErrorCode.ConnectionLost, "silo A died")));
        var records = await ReadAllAsync(reader);

        Assert.Equal(Expected.Order(), records.Order());
        Assert.Equal(Expected.Length, records.Count);
        // Epochs in order: everything of epoch 0 (from chunk 0 of A, then the rest from B) before epoch 1.
        Assert.Equal(Expected[..^2].Order(), records[..^2].Order());
        Assert.Equal(["m0b3x", "m0b3y"], records[^2..]);
        Assert.Equal(1, reader.Failovers);
        // Copy 1 was read whole, from chunk 0: the two batches chunk 0 of copy 0 gave are dropped, and map 1's batch 2 again in epoch 1.
        Assert.Contains(("b", 0, 0), source.Fetches);
        Assert.Contains(("b", 0, 1), source.Fetches);
        Assert.Equal(3, reader.DuplicateBatchesSkipped);
        Assert.Equal(7, reader.BatchesRead);
        // The chunks fetched ahead from copy 0 were freed.
        Assert.Equal(0, source.Outstanding);
        // One copy was left: the ShuffleGrain is not asked whether the shuffle still exists.
        Assert.Empty(source.Confirms);
    }

    [Fact]
    public async Task A_silo_that_times_out_is_tried_once_when_another_copy_is_left_and_again_when_it_holds_the_last_copy()
    {
        int lastCopyTries = 0;
        var (source, reader) = Setup((s, chunksA, _) =>
        {
            // Epoch 0 has a copy on B too: A's timeout fails over at once, without asking A again.
            s.Serve(SiloA, 0, 1, () => throw new GridException(GridErrorCode.Timeout, "silo A hung"));
        });
        // Epoch 1 has only A's copy: a timeout there is asked again (and answered the second time).
        var (_, chunksA1) = Make(SiloA, Epoch1, 2);
        source.Serve(SiloA, 1, 0, () => Interlocked.Increment(ref lastCopyTries) == 1 ? throw new GridException(GridErrorCode.Timeout, "slow") : chunksA1[0]);
        var records = await ReadAllAsync(reader);

        Assert.Equal(Expected.Order(), records.Order());
        Assert.Equal(1, reader.Failovers);
        Assert.Equal(1, source.Fetches.Count(f => f == ("a", 0, 1)));
        Assert.Equal(2, lastCopyTries);
        Assert.Equal(0, source.Outstanding);
    }

    [Fact]
    public async Task A_chunk_that_stays_corrupt_fails_over_to_the_other_copy()
    {
        var (source, reader) = Setup((s, chunksA, _) =>
        {
            var corrupt = (byte[])chunksA[2].Clone();
            corrupt[^1] ^= 0xFF;
            s.Serve(SiloA, 0, 2, () => corrupt);
        });
        var records = await ReadAllAsync(reader);

        Assert.Equal(Expected.Order(), records.Order());
        Assert.Equal(1, reader.Failovers);
        Assert.Equal(0, source.Outstanding);
    }

    [Fact]
    public async Task A_copy_whose_chunks_hold_fewer_batches_than_it_committed_fails_over()
    {
        // Copy 0 claims all six batches but its chunks hold five: the last batch is only on copy 1.
        var (_, reader) = Setup(copy0Batches: 5, copy0Claims: 6);
        var records = await ReadAllAsync(reader);

        Assert.Equal(Expected.Order(), records.Order());
        Assert.Equal(1, reader.Failovers);
        Assert.Equal(5 + 1, reader.DuplicateBatchesSkipped);
    }

    [Fact]
    public async Task When_every_copy_of_an_epoch_fails_the_read_fails_with_DataLost_naming_partition_epoch_and_silos()
    {
        var (source, reader) = Setup((s, _, chunksB) =>
        {
            // Copy 0: the silo no longer knows the partition. Copy 1: its second chunk comes back short.
            s.Serve(SiloA, 0, 0, () => throw new GridException(GridErrorCode.UnknownPartition, "not here"));
            s.Serve(SiloB, 0, 1, () => chunksB[1][..^5]);
        });
        var (error, records) = await ReadUntilFailureAsync(reader);

        Assert.Equal(GridErrorCode.DataLost, error.Code);
        Assert.Contains("Partition 0 epoch 0", error.Message);
        Assert.Contains("silo-a@1", error.Message);
        Assert.Contains("silo-b@2", error.Message);
        Assert.Equal(1, reader.Failovers);
        // Whatever was returned before the failure was returned once.
        Assert.Equal(records.Count, records.Distinct().Count());
        Assert.Equal(0, source.Outstanding);
        // Before calling it lost, the reader asked once whether the shuffle still exists: it does.
        Assert.Equal([("app", 7)], source.Confirms);
    }

    /// <summary>Both copies of epoch 0 answer UnknownPartition for every chunk, as after the shuffle's files were deleted.</summary>
    private static void EveryCopyOfEpoch0Unknown(FakeChunkSource source, byte[][] chunksA, byte[][] chunksB)
    {
        foreach (var (silo, chunks) in new[] { (SiloA, chunksA), (SiloB, chunksB) })
        {
            for (int i = 0; i < chunks.Length; i++)
                source.Serve(silo, 0, i, () => throw new GridException(GridErrorCode.UnknownPartition, $"{silo.Name} does not host it"));
        }
    }

    private static async Task<(GridException Error, List<string> Records)> ReadUntilFailureAsync(ShuffleReader reader)
    {
        var records = new List<string>();
        var error = await Assert.ThrowsAsync<GridException>(async () =>
        {
            await foreach (var record in reader.ReadRecordsAsync()) records.Add(Encoding.UTF8.GetString(record.Span));
        });
        return (error, records);
    }

    /// <summary>Both copies of epoch 0 were tried, then the ShuffleGrain was asked once, and the read stopped there having returned nothing.</summary>
    private static void AssertBothCopiesTriedThenShuffleConfirmedOnce(FakeChunkSource source, ShuffleReader reader, List<string> records)
    {
        Assert.Contains(("a", 0, 0), source.Fetches);
        Assert.Contains(("b", 0, 0), source.Fetches);
        Assert.DoesNotContain(source.Fetches, f => f.Epoch == 1);
        Assert.Equal([("app", 7)], source.Confirms);
        Assert.Equal(1, reader.Failovers);
        Assert.Empty(records);
        Assert.Equal(0, source.Outstanding);
    }

    [Theory]
    [InlineData(GridErrorCode.UnknownShuffle)]
    [InlineData(GridErrorCode.UnknownApplication)]
    public async Task When_every_copy_fails_because_the_shuffle_was_unregistered_the_read_fails_with_the_ShuffleGrains_answer_not_DataLost(GridErrorCode unregistered)
    {
        var (source, reader) = Setup(EveryCopyOfEpoch0Unknown);
        source.OnConfirm = () => Task.FromException(new GridException(unregistered, "unregistered by the driver"));

        var (error, records) = await ReadUntilFailureAsync(reader);

        Assert.Equal(unregistered, error.Code);
        Assert.NotEqual(GridErrorCode.DataLost, error.Code);
        Assert.Contains("unregistered by the driver", error.Message);
        AssertBothCopiesTriedThenShuffleConfirmedOnce(source, reader, records);
    }

    [Fact]
    public async Task When_every_copy_fails_with_UnknownPartition_but_the_shuffle_still_exists_the_read_fails_with_DataLost()
    {
        var (source, reader) = Setup(EveryCopyOfEpoch0Unknown);
        source.OnConfirm = () => Task.CompletedTask;

        var (error, records) = await ReadUntilFailureAsync(reader);

        Assert.Equal(GridErrorCode.DataLost, error.Code);
        Assert.Contains("Partition 0 epoch 0", error.Message);
        Assert.Contains("silo-a@1 at a:1: UnknownPartition", error.Message);
        Assert.Contains("silo-b@2 at b:2: UnknownPartition", error.Message);
        Assert.Equal(GridErrorCode.UnknownPartition, Assert.IsType<GridException>(error.InnerException).Code);
        AssertBothCopiesTriedThenShuffleConfirmedOnce(source, reader, records);
    }

    [Fact]
    public async Task Stopping_early_frees_the_chunks_fetched_ahead()
    {
        var (source, reader) = Setup();
        await foreach (var _ in reader.ReadRecordsAsync()) break;
        Assert.Equal(0, source.Outstanding);
    }
}
