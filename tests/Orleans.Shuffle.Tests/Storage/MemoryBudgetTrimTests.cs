using Orleans.Shuffle.Grains.Storage;

namespace Orleans.Shuffle.Tests.Storage;

public class MemoryBudgetTrimTests
{
    [Fact]
    public async Task Pausing_trims_partial_buffers_once_and_resumes_when_they_drain()
    {
        var budget = new MemoryBudget(1000);
        int trims = 0;
        budget.Trim = () =>
        {
            trims++;
            budget.Release(900); // what the flushed partial buffers give back
        };
        budget.Add(1000);
        Assert.True(budget.IsPaused);

        var wait = budget.WaitUntilAcceptingAsync(CancellationToken.None);
        Assert.Equal(1, trims);
        await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(100, budget.UsedBytes);
    }

    [Fact]
    public async Task A_paused_wait_ends_when_its_connection_closes()
    {
        var budget = new MemoryBudget(1000);
        budget.Add(1000);
        using var closed = new CancellationTokenSource();
        var wait = budget.WaitUntilAcceptingAsync(closed.Token).AsTask();
        Assert.False(wait.IsCompleted);
        closed.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
