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
        Assert.Equal((0L, 4096L), (budget.UsedBytes, budget.KeptBytes));
        Assert.Same(first, budget.RentBuffer(4096));
        Assert.Equal((4096L, 0L), (budget.UsedBytes, budget.KeptBytes));
    }

    [Fact]
    public void Kept_and_used_buffers_together_never_exceed_the_limit()
    {
        var budget = new MemoryBudget(2 * 4096);
        var rented = Enumerable.Range(0, 5).Select(_ => budget.RentBuffer(4096)).ToList();
        Assert.True(budget.IsPaused);
        foreach (var buffer in rented)
        {
            budget.ReturnBuffer(buffer);
            Assert.InRange(budget.UsedBytes + budget.KeptBytes, 0, Math.Max(2 * 4096, budget.UsedBytes));
        }
        // Only the last two came back when there was room for them.
        Assert.Equal((0L, 2L * 4096), (budget.UsedBytes, budget.KeptBytes));
    }

    [Fact]
    public void Buffers_are_kept_by_size_and_a_request_gets_the_next_power_of_two()
    {
        var budget = new MemoryBudget(1 << 20);
        var small = budget.RentBuffer(4096);
        var odd = budget.RentBuffer(100_000);
        Assert.Equal(131_072, odd.Length);
        Assert.Equal(4096 + 131_072, budget.UsedBytes);
        budget.ReturnBuffer(small);
        budget.ReturnBuffer(odd);
        Assert.Equal((0L, 4096L + 131_072), (budget.UsedBytes, budget.KeptBytes));
        // Each size is handed out again for requests of its size only.
        Assert.Same(odd, budget.RentBuffer(70_000));
        Assert.Same(small, budget.RentBuffer(3000));
        Assert.Equal(0, budget.KeptBytes);

        // A batch larger than any flush buffer gets exactly its length, and is not kept.
        var exact = budget.RentBuffer(16 * 1024 * 1024 + 28, exact: true);
        Assert.Equal(16 * 1024 * 1024 + 28, exact.Length);
        budget.ReturnBuffer(exact);
        Assert.Equal(0, budget.KeptBytes);
    }

    [Fact]
    public void Releasing_the_kept_buffers_hands_them_to_the_GC()
    {
        var budget = new MemoryBudget(1 << 20);
        var buffers = Enumerable.Range(0, 3).Select(_ => budget.RentBuffer(4096)).ToList();
        foreach (var buffer in buffers) budget.ReturnBuffer(buffer);
        Assert.Equal(3 * 4096, budget.ReleaseKeptBuffers());
        Assert.Equal(0, budget.KeptBytes);
        Assert.DoesNotContain(budget.RentBuffer(4096), buffers);
    }
}
