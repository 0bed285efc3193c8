using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>
/// Storage:MaxApplicationBytes on real silos: an application's pushes past its bytes on a silo are
/// refused with QuotaExceeded, naming what it holds and may hold, while another application goes on
/// pushing there; deleting the shuffle gives the bytes back.
/// </summary>
[Collection(SiloCollection.Name)]
public class ApplicationQuotaTests
{
    private const int Quota = 64 * 1024;

    [Fact]
    public async Task Pushes_past_an_applications_bytes_on_a_silo_get_QuotaExceeded_and_other_applications_are_served()
    {
        await using var grid = await TestGrid.StartAsync(1, settings: new Dictionary<string, string?> { ["Storage:MaxApplicationBytes"] = Quota.ToString() });
        var catalog = grid.CatalogOf(grid.Silos[0]);
        var greedy = await RegisterAsync(grid, "app-greedy");
        await using var greedyConnection = greedy.Connection;
        var modest = await RegisterAsync(grid, "app-modest");
        await using var modestConnection = modest.Connection;
        var batch = TestBatches.Make(0, 0, 0, new byte[40 * 1024]);

        Assert.Equal(GridErrorCode.None, await PushAsync(greedy, batch));
        var refused = await PushAsync(greedy, TestBatches.Make(0, 0, 1, new byte[40 * 1024]));
        Assert.Equal(GridErrorCode.QuotaExceeded, refused);
        Assert.Equal(batch.Length, catalog.UsageOf("app-greedy")!.Bytes);
        Assert.Equal(GridErrorCode.None, await PushAsync(modest, batch));

        await grid.Client.UnregisterShuffleAsync("app-greedy", 0);
        Assert.Null(catalog.UsageOf("app-greedy"));
        Assert.Equal(batch.Length, catalog.UsageOf("app-modest")!.Bytes);
    }

    private static async Task<(GridConnection Connection, PartitionLocation Location, string AppId)> RegisterAsync(TestGrid grid, string appId)
    {
        var secret = await grid.Client.RegisterApplicationAsync(appId);
        var location = (await grid.Client.RegisterShuffleAsync(appId, 0, new ShuffleSpec(1, 1, Replicas: 1))).Locations[0];
        var connection = await GridConnection.ConnectAsync(location.Primary.Host, location.Primary.Port,
            new GridConnectionOptions { Credential = Orleans.Shuffle.Security.DataPlaneCredential.ForApplication(appId, secret) });
        return (connection, location, appId);
    }

    private static async Task<GridErrorCode> PushAsync((GridConnection Connection, PartitionLocation Location, string AppId) target, byte[] batch)
    {
        try
        {
            using var reply = await target.Connection.SendAsync(MessageType.PushData,
                new RawBody(RawGridSocket.PushBody(target.AppId, 0, target.Location.PartitionId, target.Location.Epoch, batch)));
            return GridErrorCode.None;
        }
        catch (GridException e)
        {
            if (e.Code == GridErrorCode.QuotaExceeded) Assert.True(e.Message.Contains("may hold 65,536 (Storage:MaxApplicationBytes)", StringComparison.Ordinal), e.Message);
            return e.Code;
        }
    }
}
