using Microsoft.Extensions.DependencyInjection;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;
using Orleans.Storage;

namespace Orleans.Shuffle.Tests.Grains;

/// <summary>The ShuffleGrain as a real grain on real Orleans silos: its answers, its state, and its lifecycle.</summary>
[Collection(SiloCollection.Name)]
public sealed class ShuffleGrainTests
{
    private const int ShuffleId = 0;

    [Fact]
    public async Task The_first_attempt_of_a_map_to_end_wins_and_the_last_map_commits()
    {
        await using var grid = await TestGrid.StartAsync(2);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("first-wins");
        await grid.RegisterAsync(grain);
        await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(2, 3));

        var first = await grain.MapperEnd(ShuffleId, 0, 1);
        var speculative = await grain.MapperEnd(ShuffleId, 0, 0);
        var repeated = await grain.MapperEnd(ShuffleId, 0, 1);
        Assert.Equal(new MapperEndReply(true, 1, false), first);
        Assert.Equal(new MapperEndReply(false, 1, false), speculative);
        Assert.Equal(new MapperEndReply(true, 1, false), repeated);

        var last = await grain.MapperEnd(ShuffleId, 1, 0);
        Assert.True(last.AllMapsEnded);
        var group = await grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromSeconds(30));
        Assert.Equal([1, 0], group.WinningAttempts);
        Assert.Equal(3, group.Locations.Count);
        Assert.All(group.Locations, l => Assert.Equal(2, l.Copies.Count));
        // Nobody pushed: every copy committed an empty file.
        Assert.All(group.Locations.SelectMany(l => l.Copies), c => Assert.Equal((0L, 0), (c.File.Bytes, c.File.BatchCount)));
    }

    [Fact]
    public async Task The_driver_registers_the_spec_and_executors_only_read_it()
    {
        await using var grid = await TestGrid.StartAsync(2);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("spec-owner");
        await grid.RegisterAsync(grain);

        var unknown = await Assert.ThrowsAsync<GridException>(() => grain.GetShuffleLocations(ShuffleId));
        Assert.Equal(GridErrorCode.UnknownShuffle, unknown.Code);

        var spec = new ShuffleSpec(4, 6, Replicas: 1);
        var registered = await grain.RegisterShuffle(ShuffleId, spec);
        Assert.Equal(spec, registered.Spec);
        Assert.All(registered.Locations, l => Assert.Null(l.Replica));

        var read = await grain.GetShuffleLocations(ShuffleId);
        Assert.Equal(registered.Locations, read.Locations);
        Assert.Equal(spec, read.Spec);
        Assert.Equal(registered.Locations, (await grain.RegisterShuffle(ShuffleId, spec)).Locations);

        // Another replica count is another spec: refused, so an executor with other settings cannot change it silently.
        var mismatch = await Assert.ThrowsAsync<GridException>(() => grain.RegisterShuffle(ShuffleId, spec with { Replicas = 2 }));
        Assert.Equal(GridErrorCode.ShuffleMismatch, mismatch.Code);
        Assert.Contains("1 copy", mismatch.Message);
    }

    [Fact]
    public async Task Bad_arguments_get_clear_errors_not_hung_calls()
    {
        await using var grid = await TestGrid.StartAsync(1);
        var cluster = grid.Cluster.Client;
        var grain = cluster.GetGrain<IShuffleGrain>("bad-args");

        var unregistered = await Assert.ThrowsAsync<GridException>(() => grain.GetShuffleLocations(ShuffleId));
        Assert.Equal(GridErrorCode.UnknownApplication, unregistered.Code);
        await grid.RegisterAsync(grain);

        await AssertCode(GridErrorCode.InvalidId, () => grain.RegisterShuffle(-1, new ShuffleSpec(1, 1)));
        await AssertCode(GridErrorCode.InvalidArgument, () => grain.RegisterShuffle(ShuffleId, new ShuffleSpec(0, 1)));
        await AssertCode(GridErrorCode.InvalidArgument, () => grain.RegisterShuffle(ShuffleId, new ShuffleSpec(1, 1, Replicas: 3)));
        await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(2, 2));
        await AssertCode(GridErrorCode.InvalidId, () => grain.MapperEnd(ShuffleId, 2, 0));
        await AssertCode(GridErrorCode.InvalidId, () => grain.MapperEnd(ShuffleId, 0, -1));
        await AssertCode(GridErrorCode.UnknownShuffle, () => grain.MapperEnd(7, 0, 0));
        await AssertCode(GridErrorCode.InvalidId, () => grain.Revive(ShuffleId, [new PartitionRef(5, 0)], []));
        await AssertCode(GridErrorCode.InvalidId, () => cluster.GetGrain<IShuffleGrain>("../../etc").RegisterApplication(ApplicationSecret.Create()));

        // A partition grain called by a client, with a key that is no partition's: the client may not
        // activate partition copies at all, so the call fails at once, before any activation.
        await AssertCode(GridErrorCode.Unauthorized, () => cluster.GetGrain<IPartitionGrain>("not/a/partition").Commit());
    }

    [Fact]
    public async Task Unregistering_deletes_every_copy_and_frees_its_slots()
    {
        await using var grid = await TestGrid.StartAsync(3, slotsPerSilo: 20);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("unregister");
        await grid.RegisterAsync(grain);
        await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(1, 9));
        await grain.RegisterShuffle(1, new ShuffleSpec(1, 3));
        Assert.Equal(2 * (9 + 3), grid.Silos.Sum(s => grid.CatalogOf(s).Count));

        await grain.UnregisterShuffle(ShuffleId);
        Assert.Equal(2 * 3, grid.Silos.Sum(s => grid.CatalogOf(s).Count));
        await AssertCode(GridErrorCode.UnknownShuffle, () => grain.GetShuffleLocations(ShuffleId));

        await grain.UnregisterApplication();
        Assert.All(grid.Silos, s => Assert.Equal(20, grid.CatalogOf(s).FreeSlots));
        await AssertCode(GridErrorCode.UnknownApplication, () => grain.GetShuffleLocations(1));
        await grain.UnregisterApplication(); // idempotent
    }

    [Fact]
    public async Task A_shuffle_larger_than_the_free_slots_is_refused_and_takes_nothing()
    {
        // No quota (Applications:MaxSlotShare 1): the refusal here is the grid's, not the application's share.
        await using var grid = await TestGrid.StartAsync(2, slotsPerSilo: 5, settings: new Dictionary<string, string?> { ["Applications:MaxSlotShare"] = "1" });
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("too-big");
        await grid.RegisterAsync(grain);
        var refused = await Assert.ThrowsAsync<GridException>(() => grain.RegisterShuffle(ShuffleId, new ShuffleSpec(1, 6)));
        Assert.Equal(GridErrorCode.NoSlots, refused.Code);
        Assert.All(grid.Silos, s => Assert.Equal(5, grid.CatalogOf(s).FreeSlots));
        await AssertCode(GridErrorCode.UnknownShuffle, () => grain.GetShuffleLocations(ShuffleId));
        // What fits still registers.
        Assert.Equal(5, (await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(1, 5))).Locations.Count);
    }

    [Fact]
    public async Task An_application_cannot_hold_more_than_its_share_of_the_grids_slots_and_others_still_get_theirs()
    {
        // 2 x 20 slots and the default Applications:MaxSlotShare of 0.5: an application may hold 20.
        await using var grid = await TestGrid.StartAsync(2, slotsPerSilo: 20);
        var greedy = grid.Cluster.Client.GetGrain<IShuffleGrain>("greedy");
        var other = grid.Cluster.Client.GetGrain<IShuffleGrain>("other");
        await grid.RegisterAsync(greedy);
        await grid.RegisterAsync(other);
        Assert.Equal(6, (await greedy.RegisterShuffle(0, new ShuffleSpec(1, 6))).Locations.Count); // 12 slots

        var refused = await Assert.ThrowsAsync<GridException>(() => greedy.RegisterShuffle(1, new ShuffleSpec(1, 5)));
        Assert.Equal(GridErrorCode.QuotaExceeded, refused.Code);
        Assert.Contains("needs 10 partition slots; the application holds 12 and may hold 20", refused.Message);
        Assert.Equal(40 - 12, grid.Silos.Sum(s => grid.CatalogOf(s).FreeSlots));
        await AssertCode(GridErrorCode.UnknownShuffle, () => greedy.GetShuffleLocations(1));

        // The other application gets its own share, all of it.
        Assert.Equal(10, (await other.RegisterShuffle(0, new ShuffleSpec(1, 10))).Locations.Count);
        // Slots given back count: once its first shuffle is gone, the greedy one fits again.
        await greedy.UnregisterShuffle(0);
        Assert.Equal(5, (await greedy.RegisterShuffle(1, new ShuffleSpec(1, 5))).Locations.Count);
    }

    [Fact]
    public async Task Revive_places_a_new_epoch_away_from_the_failed_silo_once_for_every_writer()
    {
        await using var grid = await TestGrid.StartAsync(3);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("revive");
        await grid.RegisterAsync(grain);
        var before = (await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(1, 4))).Locations[2];

        // Two writers saw the same push fail: both ask, both get the same new epoch.
        var asked = new[] { new PartitionRef(2, before.Epoch) };
        var answers = await Task.WhenAll(
            grain.Revive(ShuffleId, asked, [before.Primary.Identity]),
            grain.Revive(ShuffleId, asked, [before.Primary.Identity]));
        var revived = Assert.Single(answers[0]);
        Assert.Equal(revived, Assert.Single(answers[1]));
        Assert.Equal(before.Epoch + 1, revived.Epoch);
        Assert.NotEqual(before.Primary.Identity, revived.Primary.Identity);
        Assert.NotEqual(revived.Primary.Identity, revived.Replica!.Identity);
        Assert.Equal(revived, (await grain.GetShuffleLocations(ShuffleId)).Locations[2]);
        // An old epoch asked again gets the current one; nothing new is placed.
        Assert.Equal(revived, Assert.Single(await grain.Revive(ShuffleId, asked, [])));
    }

    [Fact]
    public async Task The_state_survives_deactivation()
    {
        await using var grid = await TestGrid.StartAsync(2);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("deactivated");
        await grid.RegisterAsync(grain);
        var locations = await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(2, 4));
        await grain.MapperEnd(ShuffleId, 0, 3);

        await grid.Cluster.DeactivateAsync(grain);

        Assert.Equal(locations.Locations, (await grain.GetShuffleLocations(ShuffleId)).Locations);
        Assert.Equal(new MapperEndReply(false, 3, false), await grain.MapperEnd(ShuffleId, 0, 0));
        Assert.True((await grain.MapperEnd(ShuffleId, 1, 0)).AllMapsEnded);
        var group = await grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromSeconds(30));
        Assert.Equal([3, 0], group.WinningAttempts);
    }

    [Fact]
    public async Task A_new_activation_finishes_a_commit_its_predecessor_left_and_commit_is_idempotent()
    {
        await using var grid = await TestGrid.StartAsync(2);
        const string App = "interrupted";
        await grid.Client.RegisterApplicationAsync(App);
        grid.Secrets.Trust(App);
        await grid.Client.RegisterShuffleAsync(App, ShuffleId, new ShuffleSpec(1, 3));
        await using (var writer = await grid.Client.CreateWriterAsync(App, ShuffleId, 0, 0))
        {
            await ShuffleData.WriteMapAsync(writer, 0, 200, 3);
            await writer.CloseAsync();
        }
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>(App);
        var committed = await grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromSeconds(30));

        // What a predecessor that died after the last MapperEnd, before recording its commit, left in storage.
        await grid.Cluster.DeactivateAsync(grain);
        var storage = grid.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(ShuffleGrain.StorageName);
        var state = new GrainState<ShuffleGrainState>(new ShuffleGrainState());
        await storage.ReadStateAsync("shuffle", grain.GetGrainId(), state);
        Assert.NotNull(state.State!.Shuffles[ShuffleId].Committed);
        state.State.Shuffles[ShuffleId].Committed = null;
        await storage.WriteStateAsync("shuffle", grain.GetGrainId(), state);

        // The next activation commits again: the copies answer what they committed the first time.
        var recommitted = await grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromSeconds(30));
        Assert.Equal(Describe(committed), Describe(recommitted));
        var (records, _) = await ShuffleData.ReadPartitionAsync(grid.NewClient(), App, ShuffleId, 1);
        Assert.Equal(ShuffleData.Expected([0], 200, 3)[1], records);
    }

    [Fact]
    public async Task Commit_waits_are_awaits_bounded_and_cancellable()
    {
        await using var grid = await TestGrid.StartAsync(2);
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("waits");
        await grid.RegisterAsync(grain);
        await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(2, 2));

        var timedOut = await Assert.ThrowsAsync<GridException>(() => grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromMilliseconds(200)));
        Assert.Equal(GridErrorCode.NotCommitted, timedOut.Code);
        Assert.Contains("0 of 2 maps have ended", timedOut.Message);

        using (var cancel = new CancellationTokenSource())
        {
            var cancelled = grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromMinutes(5), cancel.Token);
            await Task.Delay(500); // parked in the grain by now: the cancellation travels to it
            Assert.False(cancelled.IsCompleted);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        }

        // A reducer that asks early waits on its call; the grain goes on serving the maps meanwhile.
        var waiting = grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromMinutes(5));
        await grain.MapperEnd(ShuffleId, 0, 0);
        Assert.False(waiting.IsCompleted);
        await grain.MapperEnd(ShuffleId, 1, 0);
        var group = await waiting.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal([0, 0], group.WinningAttempts);
    }

    [Fact]
    public async Task A_reducer_waiting_when_the_application_is_unregistered_is_answered_at_once()
    {
        // Waits of up to 5 min here: an answer within the 1 min bound below comes from the unregister.
        await using var grid = await TestGrid.StartAsync(2, settings: new Dictionary<string, string?> { ["Applications:MaxCommitWait"] = "00:05:00" });
        var grain = grid.Cluster.Client.GetGrain<IShuffleGrain>("unregistered-under-wait");
        await grid.RegisterAsync(grain);
        await grain.RegisterShuffle(ShuffleId, new ShuffleSpec(2, 2));
        var waiting = grain.GetReducerFileGroup(ShuffleId, TimeSpan.FromMinutes(5));
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted);

        await grain.UnregisterApplication();
        var error = await Assert.ThrowsAsync<GridException>(() => waiting.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal(GridErrorCode.UnknownApplication, error.Code);
    }

    [Fact]
    public async Task Partitions_with_no_surviving_copy_make_the_shuffle_DataLost_by_name()
    {
        await using var grid = await TestGrid.StartAsync(3);
        const string App = "lost";
        await grid.Client.RegisterApplicationAsync(App);
        grid.Secrets.Trust(App);
        var locations = await grid.Client.RegisterShuffleAsync(App, ShuffleId, new ShuffleSpec(1, 6, Replicas: 1));
        var grainSilo = (await grid.Client.DescribeAsync(App)).SiloIdentity;
        var victim = grid.Silos.First(s => s.SiloAddress.ToParsableString() != grainSilo
            && locations.Locations.Any(l => l.Primary.Identity == s.SiloAddress.ToParsableString()));
        var lost = locations.Locations.Where(l => l.Primary.Identity == victim.SiloAddress.ToParsableString()).Select(l => l.PartitionId).ToList();

        await grid.KillSiloAsync(victim);
        await grid.Cluster.Client.GetGrain<IShuffleGrain>(App).MapperEnd(ShuffleId, 0, 0);

        var error = await Assert.ThrowsAsync<GridException>(() => grid.Client.GetReducerFileGroupAsync(App, ShuffleId));
        Assert.Equal(GridErrorCode.DataLost, error.Code);
        foreach (int p in lost) Assert.Contains($"{p}-0 (", error.Message);
        Assert.Contains("Rerun the map stage", error.Message);
    }

    private static string Describe(ReducerFileGroup group) => string.Join(";", group.Locations.Select(l =>
        $"{l.Location.PartitionId}-{l.Location.Epoch}:" + string.Join(",", l.Copies.Select(c => $"{c.Silo.Identity}={c.File.Bytes}/{c.File.BatchCount}/{c.File.Crc32C}"))));

    private static async Task AssertCode(GridErrorCode code, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<GridException>(call).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(code, error.Code);
    }
}
