using System.Text;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Placement;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

[Collection(SiloCollection.Name)]
public class FailureModelTests
{
    /// <summary>
    /// An application id whose ShuffleGrain lives on a silo other than <paramref name="victim"/> both
    /// before and after the victim leaves (so this test is about the lost partitions alone; the grain
    /// moving is covered by <see cref="ShuffleIntegrationTests.A_silo_joining_does_not_orphan_running_applications"/>).
    /// </summary>
    private static string AppSurviving(InProcessCluster cluster, SiloHandle victim, string prefix)
    {
        var all = cluster.Silos.Select(s => s.Local.Address.Identity).ToList();
        var rest = all.Where(i => i != victim.Local.Address.Identity).ToList();
        // Bounded: about a third of ids qualify.
        for (int k = 0; k < 1000; k++)
        {
            string app = $"{prefix}-{k}";
            string before = HashBasedPlacement.Pick(app, all, i => i);
            if (before != victim.Local.Address.Identity && before == HashBasedPlacement.Pick(app, rest, i => i)) return app;
        }
        throw new InvalidOperationException("no application id keeps its owner");
    }

    [Fact]
    public async Task Partitions_of_a_silo_that_died_before_commit_are_reported_as_DataLost_by_name()
    {
        const int Partitions = 6;
        await using var cluster = await InProcessCluster.StartAsync(3, slotsPerSilo: 8);
        var victim = cluster.Silos[2];
        string app = AppSurviving(cluster, victim, "app-data-lost");
        // Replicas 1: the only copy of the victim's partitions dies with it.
        var client = await cluster.ConnectClientAsync(o => o.Replicas = 1);
        await client.RegisterApplicationAsync(app);
        var locations = await client.RegisterShuffleAsync(app, 0, 2, Partitions);
        Assert.Null(victim.Grains.Find(app));
        var lost = locations.Where(l => l.SiloIdentity == victim.Local.Address.Identity).Select(l => l.PartitionId).ToList();
        Assert.NotEmpty(lost); // 2/2/2 over three equal silos

        await using (var writer = await client.CreateWriterAsync(app, 0, 2, Partitions, 0, 0))
        {
            await ShuffleData.WriteMapAsync(writer, 0, 200, Partitions);
            Assert.False((await writer.CloseAsync()).AllMapsEnded);
        }

        await cluster.StopSiloAsync(victim, TimeSpan.FromSeconds(2));
        await cluster.WaitForConvergenceAsync();
        await client.RefreshClusterViewAsync();

        await using (var writer = await client.CreateWriterAsync(app, 0, 2, Partitions, 1, 0))
        {
            Assert.True((await writer.CloseAsync()).AllMapsEnded);
        }
        var e = await Assert.ThrowsAsync<GridException>(() => client.GetReducerFileGroupAsync(app, 0));
        Assert.Equal(ErrorCode.DataLost, e.Code);
        foreach (int partition in lost) Assert.Contains($"{partition}-0 on {victim.Name}", e.Message);
        foreach (int partition in Enumerable.Range(0, Partitions).Except(lost)) Assert.DoesNotContain($"{partition}-0 on", e.Message);
    }

    [Fact]
    public async Task A_partition_nobody_wrote_to_reads_as_empty()
    {
        await using var cluster = await InProcessCluster.StartAsync(2, slotsPerSilo: 8);
        var client = await cluster.ConnectClientAsync();
        await client.RegisterApplicationAsync("app-empty");
        await using (var writer = await client.CreateWriterAsync("app-empty", 0, 1, 3, 0, 0))
        {
            for (int i = 0; i < 100; i++) await writer.WriteAsync(0, Encoding.UTF8.GetBytes($"only-{i}"));
            Assert.True((await writer.CloseAsync()).AllMapsEnded);
        }
        var (first, _) = await ShuffleData.ReadPartitionAsync(client, "app-empty", 0, 0);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"only-{i}").Order(StringComparer.Ordinal), first);
        Assert.Empty((await ShuffleData.ReadPartitionAsync(client, "app-empty", 0, 1)).Records);
        Assert.Empty((await ShuffleData.ReadPartitionAsync(client, "app-empty", 0, 2)).Records);
        // Empty records are records too.
        await using (var writer = await client.CreateWriterAsync("app-empty", 1, 1, 1, 0, 0))
        {
            for (int i = 0; i < 3; i++) await writer.WriteAsync(0, ReadOnlyMemory<byte>.Empty);
            await writer.CloseAsync();
        }
        Assert.Equal(["", "", ""], (await ShuffleData.ReadPartitionAsync(client, "app-empty", 1, 0)).Records);
    }

    [Fact]
    public async Task A_client_skips_an_unreachable_gateway()
    {
        await using var cluster = await InProcessCluster.StartAsync(1);
        // A port that was just free: nothing listens there.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int deadPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var client = await cluster.ConnectClientAsync(o =>
        {
            o.Gateways = [$"127.0.0.1:{deadPort}", cluster.Silos[0].GridEndpoint];
            o.ConnectTimeout = TimeSpan.FromSeconds(2);
        });
        Assert.Single(client.ClusterView.Active);
        await ShuffleData.RunSmallShuffleAsync(client, "app-gateways");

        var e = await Assert.ThrowsAsync<GridException>(() => GridClient.ConnectAsync(new GridClientOptions
        {
            Gateways = [$"127.0.0.1:{deadPort}"],
            ConnectTimeout = TimeSpan.FromSeconds(2),
        }));
        Assert.Equal(ErrorCode.SiloUnavailable, e.Code);
    }
}
