using Orleans.Shuffle.Client;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>Repeating ShuffleGrain calls, against a real grain on an in-process Orleans silo.</summary>
[Collection(SiloCollection.Name)]
public sealed class ShuffleGrainCallsTests
{
    [Fact]
    public async Task A_try_with_no_answer_within_its_attempt_timeout_is_made_again_and_the_next_answers()
    {
        await using var grid = await TestGrid.StartAsync(1);
        await grid.RegisterAsync(grid.Cluster.Client.GetGrain<IShuffleGrain>("app-retry"));
        var calls = new ShuffleGrainCalls(grid.Cluster.Client, failoverTimeout: TimeSpan.FromSeconds(60));
        var lost = new TaskCompletionSource<string>(); // a try sent through a hung gateway: never answered
        int tries = 0;

        string appId = await calls.CallAsync("app-retry", async grain =>
            Interlocked.Increment(ref tries) == 1 ? await lost.Task : (await grain.Describe()).AppId,
            CancellationToken.None, attemptTimeout: TimeSpan.FromMilliseconds(300)).WaitAsync(TimeSpan.FromSeconds(60)); // bounded even if tries were never given up

        Assert.Equal("app-retry", appId);
        Assert.Equal(2, tries);
    }
}
