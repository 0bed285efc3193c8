using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Grains;

/// <summary>
/// Orleans collects idle activations; a PartitionGrain whose file is open must not be one of them
/// (its file is needed until its shuffle ends), and must go once its copy is deleted.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class PartitionGrainCollectionTests
{
    [Fact]
    public async Task Idle_partition_grains_with_files_outlive_idle_collection_and_go_when_their_copies_are_deleted()
    {
        // Idle activations are collected after 2 s here (Orleans' default is 15 min).
        await using var grid = await TestGrid.StartAsync(2, configure: silo => silo.Configure<GrainCollectionOptions>(o =>
        {
            o.CollectionQuantum = TimeSpan.FromSeconds(1);
            o.CollectionAge = TimeSpan.FromSeconds(2);
        }));
        const string App = "idle";
        await grid.Client.RegisterApplicationAsync(App);
        await grid.Client.RegisterShuffleAsync(App, 0, new ShuffleSpec(1, 3));
        Assert.Equal(6, await ActivationsAsync<PartitionGrain>(grid));

        // Idle for several collection rounds: the ShuffleGrain (no file, nothing to keep) is collected meanwhile.
        await PollAsync(async () => await ActivationsAsync<ShuffleGrain>(grid) == 0, "the idle ShuffleGrain was not collected");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(6, await ActivationsAsync<PartitionGrain>(grid));

        await grid.Client.UnregisterShuffleAsync(App, 0);
        await PollAsync(async () => await ActivationsAsync<PartitionGrain>(grid) == 0, "the partition grains of a deleted shuffle stayed active");
        Assert.All(grid.Silos, s => Assert.Empty(grid.CatalogOf(s).All));
    }

    /// <summary>The activations of <typeparamref name="TGrain"/> in every silo's activation directory.</summary>
    private static async Task<int> ActivationsAsync<TGrain>(TestGrid grid)
    {
        var activations = await grid.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return activations.Count(a => a.GrainType.StartsWith(typeof(TGrain).FullName + ",", StringComparison.Ordinal));
    }

    /// <summary>Polls every 200 ms for at most 30 s.</summary>
    private static async Task PollAsync(Func<Task<bool>> done, string failure)
    {
        for (int poll = 0; poll < 150; poll++)
        {
            if (await done()) return;
            await Task.Delay(200);
        }
        Assert.Fail(failure + " within 30 s.");
    }
}
