using Orleans.Shuffle.Client;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>
/// What an application's key reaches on real silos: a connection that proved an application id
/// reaches no copy of a later registration of that id by another driver, and no client places or
/// activates a partition copy, placement hints or not.
/// </summary>
[Collection(SiloCollection.Name)]
public class ApplicationKeyTests
{
    [Fact]
    public async Task A_connection_that_proved_an_application_reaches_no_copy_of_a_later_registration_of_its_id()
    {
        const string App = "app-again";
        await using var grid = await TestGrid.StartAsync(2);
        var first = await grid.Client.RegisterApplicationAsync(App);
        var before = await grid.Client.RegisterShuffleAsync(App, 0, new ShuffleSpec(1, 8, Replicas: 1));
        var silo = before.Locations[0].Primary;
        var (raw, ok) = await RawGridSocket.ConnectAndHelloAsync(silo);
        await using (raw)
        {
            await raw.AuthenticateAsync(DataPlaneCredential.ForApplication(App, first), ok);
            await grid.Client.UnregisterApplicationAsync(App);

            // Another driver registers the id with its own secret (a client of its own, which knows nothing of the first).
            await using var other = new GridClient(grid.Cluster.Client);
            var second = await other.RegisterApplicationAsync(App);
            Assert.False(second.Matches(first));
            var after = await other.RegisterShuffleAsync(App, 0, new ShuffleSpec(1, 8, Replicas: 1));
            var target = after.Locations.First(l => l.Primary.Identity == silo.Identity);

            var batch = TestBatches.Make(0, 0, 0, TestBatches.FrameRecords(["stale"]));
            await raw.SendRawFrameAsync(MessageType.PushData, RawGridSocket.PushBody(App, 0, target.PartitionId, target.Epoch, batch), 2);
            Assert.Equal(GridErrorCode.Unauthorized, (await raw.ReceiveErrorAsync()).Error.Code);
            await raw.SendFrameAsync(MessageType.FetchChunk, new FetchChunk(App, 0, target.PartitionId, target.Epoch, 0, 0, int.MaxValue), 3);
            Assert.Equal(GridErrorCode.Unauthorized, (await raw.ReceiveErrorAsync()).Error.Code);
            Assert.Equal(0, grid.CatalogOf(grid.Silos.Single(s => s.SiloAddress.ToParsableString() == silo.Identity)).Find(
                new Orleans.Shuffle.Grains.Partition.PartitionKey(App, 0, target.PartitionId, target.Epoch))!.File.Batches);
        }

        // The first secret proves nothing on a new connection either: its copies are gone.
        var (fresh, freshOk) = await RawGridSocket.ConnectAndHelloAsync(silo);
        await using (fresh)
        {
            var credential = DataPlaneCredential.ForApplication(App, first);
            await fresh.SendFrameAsync(MessageType.Authenticate, new Authenticate(credential.Kind, credential.Name, credential.Prove(freshOk.Challenge, freshOk.SiloIdentity)), 2);
            Assert.Equal(GridErrorCode.Unauthorized, (await fresh.ReceiveErrorAsync()).Error.Code);
            Assert.True(await fresh.WaitForCloseAsync(), "a connection with a wrong proof was left open");
        }
    }

    [Fact]
    public async Task A_client_places_and_activates_no_partition_copy_even_with_placement_hints()
    {
        await using var grid = await TestGrid.StartAsync(2);
        var copy = grid.Cluster.Client.GetGrain<IPartitionGrain>("app-steer/0/0/3/0");
        var refused = await Assert.ThrowsAsync<GridException>(() => copy.Reserve(null, null));
        Assert.Equal(GridErrorCode.Unauthorized, refused.Code);
        // Refused by the placement director: no activation was made to refuse the call itself.
        Assert.Contains("Placing", refused.Message);

        RequestContext.Set(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey, grid.Silos[1].SiloAddress);
        try
        {
            var hinted = await Assert.ThrowsAsync<GridException>(() => copy.Reserve(null, null));
            Assert.Equal(GridErrorCode.Unauthorized, hinted.Code);
            Assert.Contains("Placing", hinted.Message);
        }
        finally
        {
            RequestContext.Remove(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey);
        }
        Assert.All(grid.Silos, s => Assert.Equal(0, grid.CatalogOf(s).Count));
    }
}
