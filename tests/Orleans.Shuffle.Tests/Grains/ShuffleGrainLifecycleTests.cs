using Microsoft.Extensions.Time.Testing;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;
using Orleans.TestingHost;

namespace Orleans.Shuffle.Tests.Grains;

/// <summary>
/// The ShuffleGrain across the loss of its silo and across time: Orleans re-activates it elsewhere
/// from its stored state, and its expiry reminder deletes a silent application whether or not the
/// grain is active, and whichever silo is left.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class ShuffleGrainLifecycleTests
{
    private const int ShuffleId = 0;
    private const int Partitions = 6;
    private const int Records = 400;

    private static readonly Dictionary<string, string?> FastExpiry = new()
    {
        ["Applications:HeartbeatTtl"] = "00:05:00",
        ["Applications:ExpiryCheckPeriod"] = "00:00:01",
    };

    [Fact]
    public async Task When_the_grains_silo_dies_it_comes_back_elsewhere_with_its_state_and_the_shuffle_completes()
    {
        await using var grid = await TestGrid.StartAsync(3);
        const string App = "grain-failover";
        var driver = grid.Client;
        await driver.RegisterApplicationAsync(App);
        await driver.RegisterShuffleAsync(App, ShuffleId, new ShuffleSpec(2, Partitions));
        await WriteMapAsync(grid.NewClient(), App, 0);

        var before = await driver.DescribeAsync(App);
        await grid.KillSiloAsync(grid.SiloOf(before.SiloIdentity));

        // The next calls wait out the failover (repeated while the silo is lost), then reach a new activation.
        await WriteMapAsync(grid.NewClient(), App, 1);
        var after = await driver.DescribeAsync(App);
        Assert.NotEqual(before.SiloIdentity, after.SiloIdentity);
        Assert.Equal(2, Assert.Single(after.Shuffles).EndedMaps);

        var expected = ShuffleData.Expected([0, 1], Records, Partitions);
        var reader = grid.NewClient();
        for (int p = 0; p < Partitions; p++) Assert.Equal(expected[p], (await ShuffleData.ReadPartitionAsync(reader, App, ShuffleId, p)).Records);
    }

    [Fact]
    public async Task A_reducer_waiting_for_the_commit_when_the_grains_silo_dies_gets_the_file_group_from_the_next_activation()
    {
        await using var grid = await TestGrid.StartAsync(3);
        const string App = "wait-across-failover";
        await grid.Client.RegisterApplicationAsync(App);
        await grid.Client.RegisterShuffleAsync(App, ShuffleId, new ShuffleSpec(2, Partitions));
        await WriteMapAsync(grid.NewClient(), App, 0);

        var reducer = grid.NewClient();
        var waiting = reducer.GetReducerFileGroupAsync(App, ShuffleId);
        await Task.Delay(500); // the reducer's call is parked in the grain by now
        Assert.False(waiting.IsCompleted);

        await grid.KillSiloAsync(grid.SiloOf((await grid.Client.DescribeAsync(App)).SiloIdentity));
        await WriteMapAsync(grid.NewClient(), App, 1);

        // The parked call died with the silo, unanswered; the reducer's next call reached the new activation.
        var group = await waiting.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal([0, 0], group.WinningAttempts);
        var expected = ShuffleData.Expected([0, 1], Records, Partitions);
        for (int p = 0; p < Partitions; p++) Assert.Equal(expected[p], (await ShuffleData.ReadPartitionAsync(reducer, App, ShuffleId, p)).Records);
    }

    [Fact]
    public async Task A_silent_application_expires_although_its_grain_is_not_active()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var grid = await TestGrid.StartAsync(2, settings: FastExpiry, clock: clock);
        const string App = "silent";
        await RegisterAndWriteAsync(grid, App);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>(App);
        await grid.Cluster.DeactivateAsync(grain);

        clock.Advance(TimeSpan.FromMinutes(6));
        await WaitUntilNoCopiesAsync(grid, App);
        await AssertUnregisteredAsync(grain);
    }

    [Fact]
    public async Task A_silent_application_expires_after_its_grains_silo_died()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var grid = await TestGrid.StartAsync(3, settings: FastExpiry, clock: clock);
        const string App = "orphaned";
        await RegisterAndWriteAsync(grid, App);
        var host = grid.SiloOf((await grid.Client.DescribeAsync(App)).SiloIdentity);
        await grid.KillSiloAsync(host);

        clock.Advance(TimeSpan.FromMinutes(6));
        await WaitUntilNoCopiesAsync(grid, App);
        await AssertUnregisteredAsync(grid.Cluster.Client.GetGrain<IShuffleGrain>(App));
    }

    [Fact]
    public async Task A_heartbeating_application_does_not_expire()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var grid = await TestGrid.StartAsync(2, settings: FastExpiry, clock: clock);
        const string App = "alive";
        await RegisterAndWriteAsync(grid, App);
        // A silent application beside it shows that the expiry reminders do tick meanwhile.
        await RegisterAndWriteAsync(grid, "silent-beside");
        int copies = CopiesOf(grid, App);

        // Twenty minutes of grid time, a heartbeat every four: never five minutes of silence.
        for (int beat = 0; beat < 5; beat++)
        {
            clock.Advance(TimeSpan.FromMinutes(4));
            await grid.Client.HeartbeatAsync(App);
            if (beat == 1) await WaitUntilNoCopiesAsync(grid, "silent-beside");
            else await WaitForReminderTicksAsync();
        }
        Assert.Equal(copies, CopiesOf(grid, App));
        Assert.Equal(Partitions, (await grid.Client.DescribeAsync(App)).Shuffles.Single().Spec.NumPartitions);
    }

    private static int CopiesOf(TestGrid grid, string app) => grid.Silos.Sum(s => grid.CatalogOf(s).All.Count(p => p.Key.AppId == app));

    [Fact]
    public async Task A_reader_of_a_shuffle_another_client_unregistered_gets_UnknownShuffle_not_DataLost()
    {
        await using var grid = await TestGrid.StartAsync(2);
        const string App = "deleted-under-reader";
        var reader = grid.NewClient();
        await ShuffleData.RunSmallShuffleAsync(grid.Client, App, partitions: 3);
        await ShuffleData.ReadPartitionAsync(reader, App, ShuffleId, 0); // the reader now holds the file group

        await grid.NewClient().UnregisterShuffleAsync(App, ShuffleId);

        var error = await Assert.ThrowsAsync<GridException>(() => ShuffleData.ReadPartitionAsync(reader, App, ShuffleId, 0));
        Assert.Equal(GridErrorCode.UnknownShuffle, error.Code);
    }

    private static async Task RegisterAndWriteAsync(TestGrid grid, string app)
    {
        await grid.Client.RegisterApplicationAsync(app);
        await grid.Client.RegisterShuffleAsync(app, ShuffleId, new ShuffleSpec(2, Partitions));
        await WriteMapAsync(grid.Client, app, 0);
        Assert.True(grid.Silos.Sum(s => grid.CatalogOf(s).All.Count(p => p.Key.AppId == app)) > 0);
    }

    private static async Task WriteMapAsync(Orleans.Shuffle.Client.GridClient client, string app, int map)
    {
        await using var writer = await client.CreateWriterAsync(app, ShuffleId, map, 0);
        await ShuffleData.WriteMapAsync(writer, map, Records, Partitions);
        await writer.CloseAsync();
    }

    /// <summary>Waits (bounded) until no silo hosts a copy of the application: the expiry reminder fired and deleted it.</summary>
    private static async Task WaitUntilNoCopiesAsync(TestGrid grid, string app)
    {
        // Watching the catalogs, not calling the grain: a call is a sign of life and would keep the application.
        for (int poll = 0; poll < 600; poll++)
        {
            if (grid.Silos.All(s => grid.CatalogOf(s).All.All(p => p.Key.AppId != app))) return;
            await Task.Delay(100);
        }
        Assert.Fail($"Application {app} still has partition copies 60 s after its heartbeat lapsed.");
    }

    private static async Task AssertUnregisteredAsync(IShuffleGrain grain)
    {
        var error = await Assert.ThrowsAsync<GridException>(() => grain.GetShuffleLocations(ShuffleId));
        Assert.Equal(GridErrorCode.UnknownApplication, error.Code);
    }

    /// <summary>Real time for a few of the reminder's 1 s ticks: Orleans delivers reminders on its own clock.</summary>
    private static Task WaitForReminderTicksAsync() => Task.Delay(TimeSpan.FromSeconds(2.5));
}
