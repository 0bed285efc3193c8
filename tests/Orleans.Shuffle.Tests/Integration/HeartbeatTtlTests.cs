using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

[Collection(SiloCollection.Name)]
public class HeartbeatTtlTests
{
    [Fact]
    public async Task An_application_that_stops_heartbeating_has_its_files_deleted()
    {
        await using var cluster = await InProcessCluster.StartAsync(2, slotsPerSilo: 16,
            ["--Applications:HeartbeatTtl=00:00:02", "--Applications:ExpiryCheckPeriod=00:00:00.500"]);

        // An application that keeps heartbeating, to show expiry picks only the silent one.
        var living = await cluster.ConnectClientAsync(o =>
        {
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
            o.Replicas = 1; // one file and one slot per partition, so the counts below stay plain
        });
        await living.RegisterApplicationAsync("app-alive");
        await using var heartbeat = living.StartHeartbeat("app-alive");
        await ShuffleData.RunSmallShuffleAsync(living, "app-alive", partitions: 4);

        // The silent one: registers, pushes, commits, then its driver goes away without unregistering.
        var silent = await cluster.ConnectClientAsync(o => o.Replicas = 1);
        await ShuffleData.RunSmallShuffleAsync(silent, "app-silent", partitions: 6);
        await silent.DisposeAsync();
        Assert.Equal(10, cluster.Silos.Sum(s => s.DataFiles().Count));
        Assert.Equal(32 - 10, cluster.Silos.Sum(s => s.Partitions.FreeSlots));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        // Bounded by the deadline.
        while (cluster.Silos.Sum(s => s.Partitions.Count) > 4 && DateTime.UtcNow < deadline) await Task.Delay(100);

        Assert.All(cluster.Silos, s => Assert.DoesNotContain(s.DataFiles(), f => f.Contains("app-silent")));
        Assert.All(cluster.Silos, s => Assert.Null(s.Grains.Find("app-silent")));
        Assert.Equal(32 - 4, cluster.Silos.Sum(s => s.Partitions.FreeSlots));

        // The living application still has its data and its grain, and can read it.
        Assert.Equal(4, cluster.Silos.Sum(s => s.DataFiles().Count(f => f.Contains("app-alive"))));
        var (records, _) = await ShuffleData.ReadPartitionAsync(living, "app-alive", 0, 0);
        Assert.Equal(ShuffleData.Expected([0, 1], 300, 4)[0], records);

        // The expired application is unknown now.
        await using var again = await Orleans.Shuffle.Client.GridClient.ConnectAsync(new() { Gateways = [cluster.Silos[0].GridEndpoint] });
        var e = await Assert.ThrowsAsync<GridException>(() => again.HeartbeatAsync("app-silent"));
        Assert.Equal(ErrorCode.UnknownApplication, e.Code);
    }
}
