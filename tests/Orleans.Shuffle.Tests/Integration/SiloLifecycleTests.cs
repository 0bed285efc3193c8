using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

[Collection(SiloCollection.Name)]
public class SiloLifecycleTests
{
    /// <summary>
    /// Stopping a silo must not wait out the whole shutdown timeout because a client still has a grid
    /// connection open: the grid connection handler has to end its connections when Kestrel asks.
    /// </summary>
    [Fact]
    public async Task A_silo_with_an_open_client_connection_stops_promptly()
    {
        await using var cluster = await InProcessCluster.StartAsync(1);
        var silo = cluster.Silos[0];
        var connection = await GridConnection.ConnectAsync(silo.Host, silo.Port, new GridConnectionOptions());
        try
        {
            using var pong = await connection.SendAsync(Orleans.Shuffle.Wire.MessageType.Ping, default(Orleans.Shuffle.Messages.Empty));
            var took = await cluster.StopSiloAsync(silo, TimeSpan.FromSeconds(12));
            Assert.True(took < TimeSpan.FromSeconds(5), $"stopping the silo took {took.TotalSeconds:0.0} s with one idle client connection open");
            // The client learns that its connection is gone.
            await Task.Delay(100);
            Assert.False(connection.IsConnected);
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    /// <summary>The control for the test above: without connections the same silo stops at once.</summary>
    [Fact]
    public async Task A_silo_without_connections_stops_promptly()
    {
        await using var cluster = await InProcessCluster.StartAsync(1);
        var took = await cluster.StopSiloAsync(cluster.Silos[0], TimeSpan.FromSeconds(12));
        Assert.True(took < TimeSpan.FromSeconds(5), $"stopping an idle silo took {took.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task A_stopped_silo_leaves_the_membership_of_the_others()
    {
        await using var cluster = await InProcessCluster.StartAsync(3);
        var leaving = cluster.Silos[2];
        string identity = leaving.Local.Address.Identity;
        await cluster.StopSiloAsync(leaving, TimeSpan.FromSeconds(12));
        await cluster.WaitForConvergenceAsync();
        Assert.All(cluster.Running, s => Assert.DoesNotContain(s.Membership.Active, e => e.SiloAddress.Identity == identity));
        var table = new Orleans.Shuffle.Membership.FileMembershipTable(cluster.MembershipFile, cluster.ClusterId);
        var row = (await table.ReadAll()).Members.Single(m => m.Entry.SiloAddress.Identity == identity);
        Assert.Equal(Orleans.Shuffle.Membership.SiloStatus.Dead, row.Entry.Status);

        // The others still run shuffles.
        var client = await cluster.ConnectClientAsync();
        await ShuffleData.RunSmallShuffleAsync(client, "app-after-leave");
    }
}
