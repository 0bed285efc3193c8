using Orleans.Shuffle.Grains.Storage;

namespace Orleans.Shuffle.Tests.Storage;

/// <summary>The budget's own buffers: counted while rented, kept for reuse up to the limit, let go when the silo is idle.</summary>
public class MemoryBudgetBufferTests
{
    [Fact]
    public void A_returned_buffer_is_the_next_one_rented_and_counts_only_while_rented()
    {
        var budget = new MemoryBudget(4 * 4096);
        var first = budget.RentBuffer(4096);
        Assert.Equal(4096, first.Length);
        Assert.Equal(4096, budget.UsedBytes);

        budget.ReturnBuffer(first);
        Assert.Equal((0L, 4096L), (budget.UsedBytes, budget.RetainedBytes));
        Assert.Same(first, budget.RentBuffer(4096));
        Assert.Equal((4096L, 0L), (budget.UsedBytes, budget.RetainedBytes));
    }

    [Fact]
    public void Kept_buffers_never_exceed_the_limit()
    {
        var budget = new MemoryBudget(2 * 4096);
        var rented = Enumerable.Range(0, 5).Select(_ => budget.RentBuffer(4096)).ToList();
        Assert.True(budget.IsPaused);
        foreach (var buffer in rented) budget.ReturnBuffer(buffer);
        Assert.Equal((0L, 2L * 4096), (budget.UsedBytes, budget.RetainedBytes));
    }

    [Fact]
    public void A_batch_larger_than_a_flush_buffer_gets_an_array_of_its_own_which_is_not_kept_among_flush_buffers()
    {
        var budget = new MemoryBudget(1 << 20);
        var flush = budget.RentBuffer(4096);
        budget.ReturnBuffer(flush);

        var large = budget.RentBuffer(100_000);
        Assert.Equal(100_000, large.Length);
        Assert.Equal(100_000, budget.UsedBytes);
        budget.ReturnBuffer(large);
        // Only flush-sized arrays are kept: the large one went to the GC, the flush buffer is still there.
        Assert.Equal((0L, 4096L), (budget.UsedBytes, budget.RetainedBytes));
        Assert.Same(flush, budget.RentBuffer(4096));
    }

    [Fact]
    public void Releasing_the_kept_buffers_hands_them_to_the_GC()
    {
        var budget = new MemoryBudget(1 << 20);
        var buffers = Enumerable.Range(0, 3).Select(_ => budget.RentBuffer(4096)).ToList();
        foreach (var buffer in buffers) budget.ReturnBuffer(buffer);
        Assert.Equal(3 * 4096, budget.ReleaseKeptBuffers());
        Assert.Equal(0, budget.RetainedBytes);
        Assert.DoesNotContain(budget.RentBuffer(4096), buffers);
    }
}
