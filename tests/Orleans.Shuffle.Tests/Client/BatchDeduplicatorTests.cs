using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Tests.Client;

public class BatchDeduplicatorTests
{
    private static BatchHeader H(int map, int attempt, int batch) => new(map, attempt, batch, 0, BatchCodec.None, 0, 0);

    [Fact]
    public void A_repeated_batch_is_a_duplicate()
    {
        var dedup = new BatchDeduplicator([0, 0, 0]);
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(1, 0, 0)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(1, 0, 1)));
        Assert.Equal(BatchVerdict.Duplicate, dedup.Check(H(1, 0, 0)));
        Assert.Equal(BatchVerdict.Duplicate, dedup.Check(H(1, 0, 1)));
        Assert.Equal(BatchVerdict.Duplicate, dedup.Check(H(1, 0, 0)));
        // The same batch id of another map is another batch.
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(2, 0, 0)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(0, 0, 0)));
    }

    [Fact]
    public void Only_the_winning_attempt_of_a_map_is_read()
    {
        var dedup = new BatchDeduplicator([0, 2]);
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(1, 2, 0)));
        Assert.Equal(BatchVerdict.LosingAttempt, dedup.Check(H(1, 0, 0)));
        Assert.Equal(BatchVerdict.LosingAttempt, dedup.Check(H(1, 1, 0)));
        Assert.Equal(BatchVerdict.LosingAttempt, dedup.Check(H(1, 1, 1)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(1, 2, 1)));
        Assert.Equal(BatchVerdict.Duplicate, dedup.Check(H(1, 2, 1)));
        Assert.Equal(BatchVerdict.LosingAttempt, dedup.Check(H(0, 2, 0)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(0, 0, 0)));
    }

    [Fact]
    public void A_map_without_a_winner_is_not_read()
    {
        var dedup = new BatchDeduplicator([-1, 0]);
        Assert.Equal(BatchVerdict.LosingAttempt, dedup.Check(H(0, 0, 0)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(1, 0, 0)));
    }

    [Fact]
    public void Maps_outside_the_range_or_the_shuffle_are_out_of_range()
    {
        var dedup = new BatchDeduplicator([0, 0, 0, 0, 0], startMap: 1, endMap: 3);
        Assert.Equal(BatchVerdict.OutOfRange, dedup.Check(H(0, 0, 0)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(1, 0, 0)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(2, 0, 0)));
        Assert.Equal(BatchVerdict.OutOfRange, dedup.Check(H(3, 0, 0)));
        Assert.Equal(BatchVerdict.OutOfRange, dedup.Check(H(4, 0, 0)));
        Assert.Equal(BatchVerdict.OutOfRange, new BatchDeduplicator([0, 0]).Check(H(2, 0, 0)));
        Assert.Equal(BatchVerdict.OutOfRange, new BatchDeduplicator([0, 0]).Check(H(int.MaxValue, 0, 0)));
    }

    [Fact]
    public void Large_batch_ids_do_not_collide_across_maps()
    {
        var dedup = new BatchDeduplicator([0, 0, 0]);
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(1, 0, int.MaxValue)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(2, 0, int.MaxValue)));
        Assert.Equal(BatchVerdict.Read, dedup.Check(H(2, 0, 0)));
        Assert.Equal(BatchVerdict.Duplicate, dedup.Check(H(1, 0, int.MaxValue)));
    }

    [Fact]
    public void A_bad_range_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchDeduplicator([0], startMap: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchDeduplicator([0], startMap: 3, endMap: 2));
    }
}
