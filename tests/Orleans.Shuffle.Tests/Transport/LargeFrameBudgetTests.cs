using Microsoft.Extensions.Time.Testing;
using Orleans.Shuffle.Silo.DataPlane;

namespace Orleans.Shuffle.Tests.Transport;

public sealed class LargeFrameBudgetTests
{
    [Fact]
    public async Task Frames_that_fit_are_granted_at_once_and_the_next_waits_until_a_release_makes_room()
    {
        var budget = new LargeFrameBudget(100);
        Assert.True(await budget.ReserveAsync(60, CancellationToken.None));
        Assert.True(await budget.ReserveAsync(40, CancellationToken.None));
        var third = budget.ReserveAsync(30, CancellationToken.None);
        Assert.False(third.IsCompleted);
        Assert.Equal((100L, 1), (budget.UsedBytes, budget.Waiting));

        budget.Release(40);
        Assert.True(await third.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((90L, 0), (budget.UsedBytes, budget.Waiting));
    }

    [Fact]
    public async Task Waiters_are_served_in_order_so_a_large_frame_is_not_starved_by_smaller_ones()
    {
        var budget = new LargeFrameBudget(100);
        Assert.True(await budget.ReserveAsync(90, CancellationToken.None));
        var large = budget.ReserveAsync(80, CancellationToken.None);
        // 10 bytes are free, but the large frame asked first: the small one queues behind it.
        var small = budget.ReserveAsync(10, CancellationToken.None);
        Assert.False(small.IsCompleted);

        budget.Release(90);
        Assert.True(await large.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await small.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(90L, budget.UsedBytes);
    }

    [Fact]
    public async Task A_waiter_whose_deadline_passes_gets_false_reserves_nothing_and_unblocks_those_behind_it()
    {
        var clock = new FakeTimeProvider();
        var budget = new LargeFrameBudget(100);
        Assert.True(await budget.ReserveAsync(50, CancellationToken.None));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30), clock);
        var blocked = budget.ReserveAsync(80, deadline.Token);
        var behind = budget.ReserveAsync(20, CancellationToken.None);
        Assert.False(behind.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.False(await blocked.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await behind.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((70L, 0, 1L), (budget.UsedBytes, budget.Waiting, budget.Refused));
    }

    [Fact]
    public async Task A_frame_larger_than_the_whole_budget_is_refused_at_once_and_an_over_release_is_an_error()
    {
        var budget = new LargeFrameBudget(100);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await budget.ReserveAsync(101, CancellationToken.None));
        Assert.True(await budget.ReserveAsync(10, CancellationToken.None));
        Assert.Throws<InvalidOperationException>(() => budget.Release(11));
    }
}
