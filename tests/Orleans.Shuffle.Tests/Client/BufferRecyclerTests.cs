using Orleans.Shuffle.Client;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>The writer's free lists: full buffers and small power-of-two arrays come back and are rented again, within their bounds.</summary>
public sealed class BufferRecyclerTests
{
    [Fact]
    public void Small_arrays_are_powers_of_two_up_to_an_eighth_of_a_buffer_and_are_reused()
    {
        var recycler = new BufferRecycler(64 * 1024, capacity: 4);
        Assert.Equal(8192, recycler.MaxSmallBytes);
        var small = recycler.RentSmall(300);
        Assert.Equal(512, small.Length);
        Assert.Equal(256, recycler.RentSmall(1).Length);
        Assert.Equal(8192, recycler.RentSmall(8192).Length);
        recycler.Return(small);
        Assert.Same(small, recycler.RentSmall(400));
    }

    [Fact]
    public void Small_arrays_are_kept_up_to_the_bytes_of_the_full_buffers_kept()
    {
        // Two full buffers of 64 KiB: 128 KiB of small arrays, so 16 of 8 KiB, or 128 of 1 KiB.
        var recycler = new BufferRecycler(64 * 1024, capacity: 2);
        var arrays = Enumerable.Range(0, 20).Select(_ => recycler.RentSmall(8192)).ToList();
        arrays.ForEach(recycler.Return);
        var again = Enumerable.Range(0, 20).Select(_ => recycler.RentSmall(8192)).ToList();
        Assert.Equal(16, again.Count(a => arrays.Any(b => ReferenceEquals(a, b))));
        again.ForEach(recycler.Return);
        var many = Enumerable.Range(0, 140).Select(_ => recycler.RentSmall(1024)).ToList();
        many.ForEach(recycler.Return);
        var manyAgain = Enumerable.Range(0, 140).Select(_ => recycler.RentSmall(1024)).ToList();
        Assert.Equal(0, manyAgain.Count(a => a.Length != 1024));
        // The 8 KiB arrays still hold the whole allowance, so none of 1 KiB was kept.
        Assert.Equal(0, manyAgain.Count(a => many.Any(b => ReferenceEquals(a, b))));
    }

    [Fact]
    public void A_length_above_the_small_sizes_comes_from_the_shared_pool_and_is_not_kept_as_small()
    {
        var recycler = new BufferRecycler(64 * 1024, capacity: 4);
        var large = recycler.RentSmall(9000);
        Assert.True(large.Length >= 9000);
        recycler.Return(large);
        Assert.DoesNotContain(Enumerable.Range(0, 4).Select(_ => recycler.RentSmall(8192)), a => ReferenceEquals(a, large));
    }

    [Fact]
    public void Full_buffers_are_reused()
    {
        var recycler = new BufferRecycler(64 * 1024, capacity: 4);
        var buffer = recycler.Rent();
        Assert.True(buffer.Length >= 64 * 1024);
        recycler.Return(buffer);
        Assert.Same(buffer, recycler.Rent());
    }

    [Fact]
    public void A_tiny_buffer_size_has_no_small_sizes()
    {
        var recycler = new BufferRecycler(1024, capacity: 4);
        Assert.Equal(0, recycler.MaxSmallBytes);
        Assert.True(recycler.RentSmall(100).Length >= 100);
    }
}
