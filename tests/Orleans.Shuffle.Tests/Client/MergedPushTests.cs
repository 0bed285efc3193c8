using System.Buffers;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>
/// A merged push is reused: its entries are a sequence over its batches' arrays, rebuilt right after
/// reuse, and it goes back to its pool only once its run has completed, never while it runs.
/// </summary>
public sealed class MergedPushTests
{
    // Arrays of a length the shared pool takes back, as the writer's are.
    private static SealedBatch Batch(byte fill, int length) => new(Enumerable.Repeat(fill, 16).ToArray(), length);

    private static readonly SiloPushTarget Target = new(new SiloEndpoint("s@1", "s", "127.0.0.1", 1), 1, new MergedPushPool(new BufferRecycler(1024, 4), 4));

    [Fact]
    public void Entries_span_every_batch_in_order_and_are_rebuilt_after_reuse()
    {
        var pool = new MergedPushPool(new BufferRecycler(1024, 8), 4);
        var push = pool.Rent();
        push.Add(Batch(1, 3));
        push.Add(Batch(2, 2));
        push.Add(Batch(3, 1));
        Assert.Equal(new byte[] { 1, 1, 1, 2, 2, 3 }, push.Entries().ToArray());
        push.Dispose();
        push.Reuse();
        push.Add(Batch(7, 2));
        push.Add(Batch(8, 1));
        var entries = push.Entries();
        Assert.Equal(new byte[] { 7, 7, 8 }, entries.ToArray());
        Assert.Equal(3, entries.Length);
        Assert.Equal(3, push.Bytes);
    }

    [Fact]
    public async Task A_push_goes_back_to_its_pool_only_after_its_run_completes()
    {
        var pool = new MergedPushPool(new BufferRecycler(1024, 8), 4);
        var push = pool.Rent();
        push.Add(Batch(1, 10));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = new TaskCompletionSource<(SiloPushTarget?, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
        push.Start(Target, holdsSlot: true, async p =>
        {
            ran.TrySetResult((p.Target, p.HoldsSlot));
            await release.Task;
            p.Dispose();
        });
        var (target, holdsSlot) = await ran.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Same(Target, target);
        Assert.True(holdsSlot);
        Assert.Equal(0, pool.Count);
        release.SetResult();
        // Bounded: the run completes on the thread pool within moments.
        for (int i = 0; i < 3000 && pool.Count == 0; i++) await Task.Delay(10);
        Assert.Equal(1, pool.Count);
        Assert.Same(push, pool.Rent());
        Assert.Equal(0, push.Count);
        Assert.Null(push.Target);
    }

    [Fact]
    public void A_pool_keeps_at_most_its_capacity()
    {
        var pool = new MergedPushPool(new BufferRecycler(1024, 8), 2);
        var pushes = Enumerable.Range(0, 3).Select(_ => pool.Rent()).ToList();
        pushes.ForEach(pool.Return);
        Assert.Equal(2, pool.Count);
    }
}
