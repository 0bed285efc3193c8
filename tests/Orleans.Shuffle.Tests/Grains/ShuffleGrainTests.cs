using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Persistence;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Grains;

/// <summary>
/// A cluster of imaginary silos for the ShuffleGrain: it counts slots, records reservations, commits
/// and destroys, and can be told to refuse reservations or commits on a silo.
/// </summary>
internal sealed class FakeSiloDirectory : ISiloDirectory
{
    private readonly object _gate = new();
    private readonly Dictionary<string, int> _free = [];
    private readonly Dictionary<string, SiloInfo> _silos = [];

    /// <summary>Active reservations: (silo, app, shuffle, partition, epoch).</summary>
    public HashSet<(string Silo, string App, int Shuffle, int Partition, int Epoch)> Reserved { get; } = [];

    public List<(string Silo, int Partitions)> Commits { get; } = [];

    public List<(string Silo, string App, int Shuffle)> Destroys { get; } = [];

    /// <summary>Silos that answer ReservePartitions with NoSlots although they report free slots (they lost a race).</summary>
    public HashSet<string> RefuseReserve { get; } = [];

    public HashSet<string> FailCommit { get; } = [];

    public FakeSiloDirectory(params (string Name, int Slots)[] silos)
    {
        foreach (var (name, slots) in silos)
        {
            _silos[name] = new SiloInfo(name, name, "127.0.0.1", 1000 + _silos.Count, 0, SiloStatus.Active, slots, slots, "");
            _free[name] = slots;
        }
    }

    public SiloInfo Self => _silos.Values.First();

    public int FreeSlots(string silo)
    {
        lock (_gate) return _free[silo];
    }

    public Task<IReadOnlyList<SiloInfo>> GetActiveSilosWithLoadAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<SiloInfo>>(_silos.Values.Select(s => s with { FreeSlots = _free[s.Identity] }).ToList());
        }
    }

    public Task ReservePartitionsAsync(SiloEndpoint silo, ReservePartitions partitions, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (RefuseReserve.Contains(silo.Identity)) throw new GridException(ErrorCode.NoSlots, $"{silo.Identity} refuses");
            var fresh = partitions.Partitions.Where(p => !Reserved.Contains((silo.Identity, partitions.AppId, partitions.ShuffleId, p.PartitionId, p.Epoch))).ToList();
            if (fresh.Count > _free[silo.Identity]) throw new GridException(ErrorCode.NoSlots, $"{silo.Identity} is full");
            foreach (var p in fresh) Reserved.Add((silo.Identity, partitions.AppId, partitions.ShuffleId, p.PartitionId, p.Epoch));
            _free[silo.Identity] -= fresh.Count;
        }
        return Task.CompletedTask;
    }

    public Task<CommitReply> CommitPartitionsAsync(SiloEndpoint silo, PartitionRefs partitions, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Commits.Add((silo.Identity, partitions.Partitions.Count));
            if (FailCommit.Contains(silo.Identity)) throw new GridException(ErrorCode.StorageFailure, "disk died");
            foreach (var p in partitions.Partitions)
            {
                if (!Reserved.Contains((silo.Identity, partitions.AppId, partitions.ShuffleId, p.PartitionId, p.Epoch)))
                    throw new GridException(ErrorCode.UnknownPartition, $"{p} not on {silo.Identity}");
            }
            return Task.FromResult(new CommitReply(partitions.Partitions
                .Select(p => new CommittedPartition(p.PartitionId, p.Epoch, new CommittedFile(10 * (p.PartitionId + 1), 1, 7, [0, 10 * (p.PartitionId + 1)])))
                .ToList()));
        }
    }

    public Task DestroyShuffleAsync(SiloEndpoint silo, string appId, int shuffleId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Destroys.Add((silo.Identity, appId, shuffleId));
            int removed = Reserved.RemoveWhere(r => r.Silo == silo.Identity && r.App == appId && (shuffleId == ShuffleRequest.AllShuffles || r.Shuffle == shuffleId));
            _free[silo.Identity] += removed;
        }
        return Task.CompletedTask;
    }
}

public sealed class ShuffleGrainTests : IDisposable
{
    private readonly TempDirectory _state = new();

    /// <summary>A grain on real file grain storage; these tests run unreplicated (replicas 1) so slot counts stay simple.</summary>
    private ShuffleGrain Grain(FakeSiloDirectory silos, string app = "app") =>
        new(app, silos, new SlotAwarePlacementDirector(), new FileGrainStorage(_state.Path), TimeProvider.System, NullLogger.Instance);

    [Fact]
    public async Task Register_places_and_reserves_every_partition_once()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10), ("c", 10));
        var grain = Grain(silos);
        var locations = await grain.RegisterShuffleAsync(0, 4, 12, 1, CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, 12), locations.Select(l => l.PartitionId));
        Assert.All(locations, l => Assert.Equal(0, l.Epoch));
        Assert.Equal(12, silos.Reserved.Count);
        Assert.All(new[] { "a", "b", "c" }, s => Assert.Equal(6, silos.FreeSlots(s)));
        Assert.All(locations, l => Assert.Contains((l.SiloIdentity, "app", 0, l.PartitionId, 0), silos.Reserved));

        // Idempotent: the same locations, nothing reserved again.
        Assert.Equal(locations, await grain.RegisterShuffleAsync(0, 4, 12, 1, CancellationToken.None));
        Assert.Equal(12, silos.Reserved.Count);
        var e = await Assert.ThrowsAsync<GridException>(() => grain.RegisterShuffleAsync(0, 5, 12, 1, CancellationToken.None));
        Assert.Equal(ErrorCode.ShuffleMismatch, e.Code);
    }

    [Fact]
    public async Task A_silo_that_refuses_is_left_out_and_its_partitions_go_elsewhere()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10), ("c", 10));
        silos.RefuseReserve.Add("b");
        var grain = Grain(silos);
        var locations = await grain.RegisterShuffleAsync(0, 1, 12, 1, CancellationToken.None);
        Assert.DoesNotContain(locations, l => l.SiloIdentity == "b");
        Assert.Equal(12, silos.Reserved.Count);
        Assert.Equal(10, silos.FreeSlots("b"));
    }

    /// <summary>
    /// When placement finally fails, the partitions already reserved on silos that accepted them must
    /// be released again: nothing else ever will, since the shuffle was never recorded.
    /// </summary>
    [Fact]
    public async Task A_failed_registration_releases_the_partitions_it_reserved()
    {
        // 'b' reports free slots but refuses (another shuffle took them first); 'a' alone cannot hold the rest.
        var silos = new FakeSiloDirectory(("a", 6), ("b", 6));
        silos.RefuseReserve.Add("b");
        var grain = Grain(silos);
        var e = await Assert.ThrowsAsync<GridException>(() => grain.RegisterShuffleAsync(0, 1, 10, 1, CancellationToken.None));
        Assert.Equal(ErrorCode.NoSlots, e.Code);
        Assert.True(silos.Reserved.Count == 0,
            $"{silos.Reserved.Count} partition slots stay reserved on silo a after the registration failed ({silos.FreeSlots("a")} of 6 free)");
        Assert.Equal(6, silos.FreeSlots("a"));
    }

    [Fact]
    public async Task The_first_attempt_to_end_wins_and_the_last_map_commits()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10));
        var grain = Grain(silos);
        var locations = await grain.RegisterShuffleAsync(3, 3, 4, 1, CancellationToken.None);

        var notYet = await Assert.ThrowsAsync<GridException>(() => grain.GetReducerFileGroupAsync(3, CancellationToken.None));
        Assert.Equal(ErrorCode.NotCommitted, notYet.Code);

        Assert.Equal(new MapperEndReply(true, 1, false), await grain.MapperEndAsync(3, 0, 1, CancellationToken.None));
        Assert.Equal(new MapperEndReply(false, 1, false), await grain.MapperEndAsync(3, 0, 0, CancellationToken.None));
        Assert.Equal(new MapperEndReply(true, 1, false), await grain.MapperEndAsync(3, 0, 1, CancellationToken.None)); // repeated: still the winner
        Assert.Equal(new MapperEndReply(true, 0, false), await grain.MapperEndAsync(3, 1, 0, CancellationToken.None));
        Assert.Empty(silos.Commits);
        Assert.Equal(new MapperEndReply(true, 2, true), await grain.MapperEndAsync(3, 2, 2, CancellationToken.None));

        var group = await grain.GetReducerFileGroupAsync(3, CancellationToken.None);
        Assert.Equal([1, 0, 2], group.WinningAttempts);
        Assert.Equal(3, group.NumMaps);
        Assert.Equal(4, group.NumPartitions);
        Assert.Equal(locations, group.Locations.Select(l => l.Location));
        Assert.All(group.Locations, l => Assert.Equal(10 * (l.Location.PartitionId + 1), l.Copies[0].File.Bytes));
        Assert.Equal(2, silos.Commits.Count); // one commit per silo
        Assert.Equal(4, silos.Commits.Sum(c => c.Partitions));

        // A late attempt of an ended map loses, and changes nothing.
        Assert.Equal(new MapperEndReply(false, 2, true), await grain.MapperEndAsync(3, 2, 5, CancellationToken.None));
        Assert.Same(group, await grain.GetReducerFileGroupAsync(3, CancellationToken.None));
    }

    [Fact]
    public async Task Bad_map_ids_and_unknown_shuffles_are_refused()
    {
        var grain = Grain(new FakeSiloDirectory(("a", 10)));
        await grain.RegisterShuffleAsync(0, 2, 2, 1, CancellationToken.None);
        Assert.Equal(ErrorCode.InvalidId, (await Assert.ThrowsAsync<GridException>(() => grain.MapperEndAsync(0, 2, 0, CancellationToken.None))).Code);
        Assert.Equal(ErrorCode.InvalidId, (await Assert.ThrowsAsync<GridException>(() => grain.MapperEndAsync(0, -1, 0, CancellationToken.None))).Code);
        Assert.Equal(ErrorCode.UnknownShuffle, (await Assert.ThrowsAsync<GridException>(() => grain.MapperEndAsync(1, 0, 0, CancellationToken.None))).Code);
        Assert.Equal(ErrorCode.UnknownShuffle, (await Assert.ThrowsAsync<GridException>(() => grain.GetReducerFileGroupAsync(1, CancellationToken.None))).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<GridException>(() => grain.RegisterShuffleAsync(2, 0, 2, 1, CancellationToken.None))).Code);
        Assert.Equal(ErrorCode.InvalidId, (await Assert.ThrowsAsync<GridException>(() => grain.RegisterShuffleAsync(-1, 1, 2, 1, CancellationToken.None))).Code);
        Assert.Throws<GridException>(() => Grain(new FakeSiloDirectory(("a", 1)), "../etc"));
    }

    [Fact]
    public async Task A_silo_whose_commit_fails_makes_the_shuffle_DataLost_naming_its_partitions()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10));
        var grain = Grain(silos);
        var locations = await grain.RegisterShuffleAsync(0, 1, 4, 1, CancellationToken.None);
        silos.FailCommit.Add("b");
        await grain.MapperEndAsync(0, 0, 0, CancellationToken.None);
        var e = await Assert.ThrowsAsync<GridException>(() => grain.GetReducerFileGroupAsync(0, CancellationToken.None));
        Assert.Equal(ErrorCode.DataLost, e.Code);
        foreach (var lost in locations.Where(l => l.SiloIdentity == "b")) Assert.Contains($"{lost.PartitionId}-0", e.Message);
    }

    [Fact]
    public async Task Unregistering_destroys_on_every_silo_that_holds_partitions()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10), ("c", 10));
        var grain = Grain(silos);
        await grain.RegisterShuffleAsync(0, 1, 6, 1, CancellationToken.None);
        await grain.RegisterShuffleAsync(1, 1, 2, 1, CancellationToken.None);
        await grain.MapperEndAsync(0, 0, 0, CancellationToken.None);
        await grain.GetReducerFileGroupAsync(0, CancellationToken.None);

        await grain.UnregisterShuffleAsync(0, CancellationToken.None);
        Assert.Equal(2, silos.Reserved.Count);
        Assert.Equal(ErrorCode.UnknownShuffle, (await Assert.ThrowsAsync<GridException>(() => grain.GetReducerFileGroupAsync(0, CancellationToken.None))).Code);
        await grain.UnregisterShuffleAsync(0, CancellationToken.None); // twice is fine

        await grain.UnregisterApplicationAsync("test", CancellationToken.None);
        Assert.Empty(silos.Reserved);
        Assert.All(new[] { "a", "b", "c" }, s => Assert.Equal(10, silos.FreeSlots(s)));
    }

    [Fact]
    public void Expiry_follows_the_last_activity()
    {
        var time = new ManualTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var grain = new ShuffleGrain("app", new FakeSiloDirectory(("a", 1)), new SlotAwarePlacementDirector(), new FileGrainStorage(_state.Path), time, NullLogger.Instance);
        time.Now += TimeSpan.FromSeconds(299);
        Assert.False(grain.IsExpired(TimeSpan.FromSeconds(300)));
        time.Now += TimeSpan.FromSeconds(2);
        Assert.True(grain.IsExpired(TimeSpan.FromSeconds(300)));
        grain.Touch();
        Assert.False(grain.IsExpired(TimeSpan.FromSeconds(300)));
        Assert.Equal(time.Now, grain.LastActivity);
    }

    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    public void Dispose() => _state.Dispose();

    [Fact]
    public async Task A_new_activation_reloads_the_state_and_the_old_one_becomes_defunct()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10));
        var first = Grain(silos);
        await first.RegisterApplicationAsync(CancellationToken.None);
        var locations = await first.RegisterShuffleAsync(0, 2, 4, 1, CancellationToken.None);
        await first.MapperEndAsync(0, 0, 3, CancellationToken.None);

        // The first activation's silo "dies": another activates the grain from storage.
        var second = Grain(silos);
        await second.ActivateAsync();
        Assert.True(second.IsRegistered);
        Assert.Equal(locations, await second.RegisterShuffleAsync(0, 2, 4, 1, CancellationToken.None));
        Assert.Equal(new MapperEndReply(false, 3, false), await second.MapperEndAsync(0, 0, 4, CancellationToken.None));
        var ended = await second.MapperEndAsync(0, 1, 0, CancellationToken.None);
        Assert.True(ended.AllMapsEnded);
        var group = await second.GetReducerFileGroupAsync(0, CancellationToken.None);
        Assert.Equal([3, 0], group.WinningAttempts);

        // The stale activation cannot overwrite what the new one wrote: its write fails and it is defunct.
        var e = await Assert.ThrowsAsync<GridException>(() => first.RegisterShuffleAsync(1, 1, 2, 1, CancellationToken.None));
        Assert.Equal(ErrorCode.SiloUnavailable, e.Code);
        Assert.True(first.IsDefunct);
        var third = Grain(silos);
        await third.ActivateAsync();
        Assert.Equal(group.WinningAttempts, (await third.GetReducerFileGroupAsync(0, CancellationToken.None)).WinningAttempts);
    }

    [Fact]
    public async Task Replicated_partitions_have_their_copies_on_two_silos_and_commit_survives_one()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10), ("c", 10));
        var grain = Grain(silos);
        var locations = await grain.RegisterShuffleAsync(0, 1, 6, 2, CancellationToken.None);
        Assert.All(locations, l => Assert.NotEqual(l.Primary.Identity, l.Replica!.Identity));
        Assert.Equal(30 - 12, new[] { "a", "b", "c" }.Sum(silos.FreeSlots));

        silos.FailCommit.Add("b");
        await grain.MapperEndAsync(0, 0, 0, CancellationToken.None);
        var group = await grain.GetReducerFileGroupAsync(0, CancellationToken.None);
        Assert.Equal(6, group.Locations.Count);
        Assert.All(group.Locations, l => Assert.DoesNotContain(l.Copies, c => c.Silo.Identity == "b"));
        Assert.Contains(group.Locations, l => l.Copies.Count == 1);
        Assert.Contains(group.Locations, l => l.Copies.Count == 2);
    }

    [Fact]
    public async Task Revive_places_a_new_epoch_away_from_the_failed_silo_once()
    {
        var silos = new FakeSiloDirectory(("a", 10), ("b", 10), ("c", 10));
        var grain = Grain(silos);
        var locations = await grain.RegisterShuffleAsync(0, 1, 3, 2, CancellationToken.None);
        var failed = locations[1];
        var revived = await grain.ReviveAsync(0, [new PartitionRef(1, 0)], [failed.Primary.Identity], CancellationToken.None);
        var next = Assert.Single(revived);
        Assert.Equal((1, 1), (next.PartitionId, next.Epoch));
        Assert.NotEqual(failed.Primary.Identity, next.Primary.Identity);
        Assert.NotEqual(failed.Primary.Identity, next.Replica!.Identity);

        // A second writer that saw the same failure gets the same new epoch, not another one.
        Assert.Equal(next, Assert.Single(await grain.ReviveAsync(0, [new PartitionRef(1, 0)], [], CancellationToken.None)));
        // Registering again returns the current location of each partition: partition 1 is at epoch 1 now.
        Assert.Equal([0, 1, 0], (await grain.RegisterShuffleAsync(0, 1, 3, 2, CancellationToken.None)).Select(l => l.Epoch));

        await grain.MapperEndAsync(0, 0, 0, CancellationToken.None);
        var group = await grain.GetReducerFileGroupAsync(0, CancellationToken.None);
        Assert.Equal(new[] { 0, 1 }, group.LocationsOf(1).Select(l => l.Location.Epoch));
        var late = await Assert.ThrowsAsync<GridException>(() => grain.ReviveAsync(0, [new PartitionRef(2, 0)], [], CancellationToken.None));
        Assert.Equal(ErrorCode.MapEnded, late.Code);
    }
}
