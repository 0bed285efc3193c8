using System.Diagnostics;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Waiting for a condition a test cannot be told about: asked again every <c>every</c>, for at most <c>timeout</c>.</summary>
public static class Poll
{
    /// <summary>True as soon as <paramref name="done"/> is; false when <paramref name="timeout"/> (default 30 s) passed first.</summary>
    public static async Task<bool> UntilAsync(Func<Task<bool>> done, TimeSpan? timeout = null, TimeSpan? every = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var clock = Stopwatch.StartNew();
        // Bounded by the timeout.
        while (clock.Elapsed < limit)
        {
            if (await done()) return true;
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(100));
        }
        return false;
    }

    public static Task<bool> UntilAsync(Func<bool> done, TimeSpan? timeout = null, TimeSpan? every = null) =>
        UntilAsync(() => Task.FromResult(done()), timeout, every);
}
