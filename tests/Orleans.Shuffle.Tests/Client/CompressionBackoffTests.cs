using Orleans.Shuffle.Client.Compression;

namespace Orleans.Shuffle.Tests.Client;

public class CompressionBackoffTests
{
    /// <summary>Which of <paramref name="batches"/> batches are tried when every try fails (or every one shrinks).</summary>
    private static List<int> Tried(int batches, bool shrinks)
    {
        var backoff = new CompressionBackoff();
        var tried = new List<int>();
        for (int i = 0; i < batches; i++)
        {
            if (!backoff.ShouldTry()) continue;
            tried.Add(i);
            if (shrinks) backoff.Shrank();
            else backoff.DidNotShrink();
        }
        return tried;
    }

    [Fact]
    public void Every_batch_of_compressible_data_is_tried() => Assert.Equal(Enumerable.Range(0, 100), Tried(100, shrinks: true));

    [Fact]
    public void Incompressible_data_is_tried_ever_more_rarely_down_to_one_batch_in_64()
    {
        // Skips of 1, 2, 4, ..., 64, then 64 for good.
        Assert.Equal([0, 2, 5, 10, 19, 36, 69, 134, 199, 264], Tried(300, shrinks: false));
    }

    [Fact]
    public void A_batch_that_shrinks_again_ends_the_skipping()
    {
        var backoff = new CompressionBackoff();
        // Ten misses in a row: 1, 2, 4, ..., 64, then 64 again.
        for (int i = 0; i < 10; i++) backoff.DidNotShrink();
        // Bounded: at most MaxSkip batches pass before the next try.
        int skipped = 0;
        while (!backoff.ShouldTry()) skipped++;
        Assert.Equal(CompressionBackoff.MaxSkip, skipped);
        // After a batch that shrank, the next miss skips one batch again, not 64.
        backoff.Shrank();
        backoff.DidNotShrink();
        Assert.False(backoff.ShouldTry());
        Assert.True(backoff.ShouldTry());
    }
}
