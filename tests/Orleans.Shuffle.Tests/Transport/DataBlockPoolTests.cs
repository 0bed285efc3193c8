using Microsoft.Extensions.DependencyInjection;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Transport;

/// <summary>
/// The data endpoint's block pool: blocks of one size, reused, kept only up to its limit, and the
/// pool the real socket transport receives into (a grid's pushes and fetches rent from it).
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class DataBlockPoolTests
{
    [Fact]
    public void A_returned_block_is_rented_again_and_a_second_return_is_ignored()
    {
        using var pool = new DataBlockPool(64 * 1024, 1024 * 1024);
        var first = pool.Rent(100);
        Assert.Equal(64 * 1024, first.Memory.Length);
        var array = System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(first.Memory, out var segment) ? segment.Array : null;
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, pool.KeptBlocks);
        var second = pool.Rent();
        var third = pool.Rent();
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(second.Memory, out var again));
        Assert.Same(array, again.Array);
        Assert.Equal(2, pool.AllocatedBlocks);
        Assert.Equal(0, pool.KeptBlocks);
        second.Dispose();
        third.Dispose();
    }

    [Fact]
    public void A_returned_block_cannot_be_used_by_its_old_owner()
    {
        using var pool = new DataBlockPool(4096, 1024 * 1024);
        var block = pool.Rent();
        block.Dispose();
        Assert.Throws<ObjectDisposedException>(() => block.Memory);
    }

    [Fact]
    public void Blocks_returned_beyond_the_limit_are_not_kept()
    {
        using var pool = new DataBlockPool(4096, 3 * 4096);
        var blocks = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        blocks.ForEach(b => b.Dispose());
        Assert.Equal(3, pool.KeptBlocks);
    }

    [Fact]
    public void A_request_larger_than_a_block_is_refused()
    {
        using var pool = new DataBlockPool(4096, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(4097));
    }

    [Fact]
    public async Task The_data_endpoint_receives_and_replies_in_blocks_of_its_pool()
    {
        await using var grid = await TestGrid.StartAsync(2);
        await ShuffleData.RunSmallShuffleAsync(grid.Client, "app-block-pool");
        foreach (var silo in grid.Silos)
        {
            var endpoint = silo.ServiceProvider.GetRequiredService<DataEndpoint>();
            var pool = endpoint.Blocks!;
            Assert.True(pool.AllocatedBlocks > 0, $"{silo.Name}'s sockets rented no block from the endpoint's pool");
            Assert.Equal(64 * 1024, pool.BlockBytes);
            Assert.True((long)pool.KeptBlocks * pool.BlockBytes <= pool.MaxKeptBytes);
        }
    }
}
