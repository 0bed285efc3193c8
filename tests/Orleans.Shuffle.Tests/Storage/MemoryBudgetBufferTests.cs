using Orleans.Shuffle.Grains.Storage;

namespace Orleans.Shuffle.Tests.Storage;

/// <summary>The budget's own buffers: counted while rented, kept for reuse up to the limit's worth, let go when the silo is idle.</summary>
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

    /// <summary>
    /// Buffers rented while the budget is over its limit still come back for reuse, up to the limit's
    /// worth: dropped ones would be garbage on the large object heap that only a full collection takes
    /// back, and the next rent would allocate anew, so the heap would follow the data.
    /// </summary>
    [Fact]
    public void Buffers_returned_while_over_the_limit_are_kept_up_to_the_limit_and_reused()
    {
        var budget = new MemoryBudget(2 * 4096);
        var rented = Enumerable.Range(0, 5).Select(_ => budget.RentBuffer(4096)).ToList();
        Assert.True(budget.IsPaused);
        foreach (var buffer in rented)
        {
            budget.ReturnBuffer(buffer);
            Assert.InRange(budget.KeptBytes, 0, 2 * 4096);
        }
        // The first two came back while the budget was still over its limit; the rest found no room.
        Assert.Equal((0L, 2L * 4096), (budget.UsedBytes, budget.KeptBytes));
        Assert.Same(rented[1], budget.RentBuffer(4096));
        Assert.Same(rented[0], budget.RentBuffer(4096));
        var fresh = budget.RentBuffer(4096);
        Assert.DoesNotContain(rented, b => ReferenceEquals(b, fresh));
    }

    /// <summary>A full set of kept buffers makes room for the size coming back by letting go of other sizes.</summary>
    [Fact]
    public void A_returned_buffer_displaces_kept_buffers_of_other_sizes_when_the_kept_set_is_full()
    {
        var budget = new MemoryBudget(4 * 4096);
        var small = Enumerable.Range(0, 4).Select(_ => budget.RentBuffer(4096)).ToList();
        foreach (var buffer in small) budget.ReturnBuffer(buffer);
        Assert.Equal(4L * 4096, budget.KeptBytes);

        var large = budget.RentBuffer(2 * 4096);
        Assert.DoesNotContain(small, b => ReferenceEquals(b, large));
        budget.ReturnBuffer(large);
        // Two small ones went to the GC to make room for the large one; the kept set stays within the limit.
        Assert.Equal(4L * 4096, budget.KeptBytes);
        Assert.Same(large, budget.RentBuffer(2 * 4096));
        Assert.Equal(2L * 4096, budget.KeptBytes);
    }

    /// <summary>Kept buffers of other sizes are let go only when that makes room; a buffer that cannot fit leaves them be.</summary>
    [Fact]
    public void A_returned_buffer_that_cannot_fit_lets_no_kept_buffer_go()
    {
        var budget = new MemoryBudget(4 * 4096);
        var small = Enumerable.Range(0, 4).Select(_ => budget.RentBuffer(4096)).ToList();
        var huge = budget.RentBuffer(8 * 4096);
        foreach (var buffer in small) budget.ReturnBuffer(buffer);
        budget.ReturnBuffer(huge);
        Assert.Equal((0L, 4L * 4096), (budget.UsedBytes, budget.KeptBytes));
        var again = budget.RentBuffer(4096);
        Assert.Contains(small, b => ReferenceEquals(b, again));
    }

    /// <summary>An exact buffer is never asked for again, so it is not kept even when its length is a power of two.</summary>
    [Fact]
    public void An_exact_buffer_is_not_kept_even_when_its_length_is_a_power_of_two()
    {
        var budget = new MemoryBudget(1 << 20);
        budget.ReturnBuffer(budget.RentBuffer(4096));
        var exact = budget.RentBuffer(64 * 1024, exact: true);
        Assert.Equal(64 * 1024, exact.Length);
        budget.ReturnBuffer(exact);
        Assert.Equal((0L, 4096L), (budget.UsedBytes, budget.KeptBytes));
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
        // By reference: xunit compares arrays by their contents, and fresh uninitialized arrays may match.
        var fresh = budget.RentBuffer(4096);
        Assert.DoesNotContain(buffers, b => ReferenceEquals(b, fresh));
    }
}
