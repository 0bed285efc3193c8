using System.Net;
using Orleans.Messaging;
using Orleans.Runtime;

namespace Orleans.Shuffle.Providers.Tests.Membership;

/// <summary>
/// Conformance tests of Orleans' <see cref="IMembershipTable"/> and of the gateway list clients read from
/// it, written against the interfaces only, so every implementation runs the same ones: derive, and
/// open a table and a gateway list provider. Each test has its own cluster id (xunit makes an instance
/// per test). The semantics are Orleans' (see its MembershipTableTestsBase): etags on rows and on the
/// table version, lost races return false and change nothing.
/// </summary>
public abstract class MembershipTableTestsBase : IAsyncLifetime
{
    private static int s_generation = 1_000;

    /// <summary>A handle on the table of <paramref name="clusterId"/>, as one silo process opens it; every call opens another handle on the same table.</summary>
    protected abstract IMembershipTable OpenTable(string clusterId);

    /// <summary>A client's gateway list provider for the same table.</summary>
    protected abstract IGatewayListProvider OpenGatewayListProvider(string clusterId);

    protected string ClusterId { get; } = "test-" + Guid.NewGuid().ToString("N")[..8];

    protected IMembershipTable Table { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        Table = OpenTable(ClusterId);
        await Table.InitializeMembershipTableAsync(tryInitTableVersion: true);
    }

    public virtual Task DisposeAsync() => Table.DeleteMembershipTableEntriesAsync(ClusterId);

    /// <summary>A new silo's entry; times at millisecond precision, which every table keeps.</summary>
    protected static MembershipEntry NewEntry(SiloStatus status = SiloStatus.Joining, int port = 11111, DateTime? alive = null)
    {
        var time = alive ?? new DateTime(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.New(IPAddress.Loopback, port, Interlocked.Increment(ref s_generation)),
            Status = status,
            ProxyPort = port + 10_000,
            HostName = "host-a",
            SiloName = $"silo-{port}",
            StartTime = time.AddMinutes(-1),
            IAmAliveTime = time,
        };
    }

    protected static SiloAddress Voter(int port) => SiloAddress.New(IPAddress.Parse("10.0.0.7"), port, 42);

    /// <summary>The fields every table keeps (Orleans' DynamoDB schema has no RoleName, UpdateZone or FaultZone).</summary>
    protected static void AssertSameEntry(MembershipEntry expected, MembershipEntry actual)
    {
        Assert.Equal(expected.SiloAddress, actual.SiloAddress);
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.ProxyPort, actual.ProxyPort);
        Assert.Equal(expected.HostName, actual.HostName);
        Assert.Equal(expected.SiloName, actual.SiloName);
        Assert.Equal(expected.StartTime, actual.StartTime);
        Assert.Equal(expected.IAmAliveTime, actual.IAmAliveTime);
        Assert.Equal(Votes(expected), Votes(actual));
    }

    private static List<(SiloAddress, DateTime)> Votes(MembershipEntry entry) =>
        (entry.SuspectTimes ?? []).Select(v => (v.Item1, v.Item2)).ToList();

    protected async Task<TableVersion> InsertAsync(MembershipEntry entry)
    {
        var data = await Table.ReadAllAsync();
        Assert.True(await Table.InsertRowAsync(entry, data.Version.Next()), $"insert of {entry.SiloAddress} failed");
        return (await Table.ReadAllAsync()).Version;
    }

    private async Task AssertUnchangedAsync(MembershipTableData before)
    {
        var after = await Table.ReadAllAsync();
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Members.Count, after.Members.Count);
        foreach (var (entry, etag) in before.Members)
        {
            var row = after.TryGet(entry.SiloAddress);
            Assert.NotNull(row);
            AssertSameEntry(entry, row.Item1);
            Assert.Equal(etag, row.Item2);
        }
    }

    [Fact]
    public async Task A_new_table_is_empty_at_version_0_and_initializing_again_changes_nothing()
    {
        var empty = await Table.ReadAllAsync();
        Assert.Empty(empty.Members);
        Assert.Equal(0, empty.Version.Version);
        Assert.NotNull(empty.Version.VersionEtag);

        await InsertAsync(NewEntry());
        var before = await Table.ReadAllAsync();
        // A second silo starting (and this one again) must not reset the version or lose rows.
        await OpenTable(ClusterId).InitializeMembershipTableAsync(tryInitTableVersion: true);
        await Table.InitializeMembershipTableAsync(tryInitTableVersion: false);
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task An_inserted_row_reads_back_with_an_etag_and_the_next_version()
    {
        var before = await Table.ReadAllAsync();
        var entry = NewEntry();
        Assert.True(await Table.InsertRowAsync(entry, before.Version.Next()));

        var after = await OpenTable(ClusterId).ReadAllAsync();
        var (row, etag) = Assert.Single(after.Members);
        AssertSameEntry(entry, row);
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal(before.Version.Version + 1, after.Version.Version);
        Assert.NotEqual(before.Version.VersionEtag, after.Version.VersionEtag);

        var read = await Table.ReadRowAsync(entry.SiloAddress);
        AssertSameEntry(entry, Assert.Single(read.Members).Item1);
        Assert.Equal(etag, read.Members[0].Item2);
        Assert.Equal(after.Version, read.Version);
    }

    [Fact]
    public async Task ReadRow_of_a_missing_silo_gives_no_row_and_the_current_version()
    {
        var version = await InsertAsync(NewEntry(port: 1));
        var read = await Table.ReadRowAsync(NewEntry(port: 2).SiloAddress);
        Assert.Empty(read.Members);
        Assert.Equal(version, read.Version);
    }

    [Fact]
    public async Task Inserting_a_silo_that_has_a_row_is_refused_and_changes_nothing()
    {
        var entry = NewEntry();
        await InsertAsync(entry);
        var before = await Table.ReadAllAsync();
        var impostor = NewEntry();
        impostor.SiloAddress = entry.SiloAddress;
        impostor.SiloName = "impostor";
        Assert.False(await Table.InsertRowAsync(impostor, before.Version.Next()));
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task An_insert_with_a_stale_version_etag_is_refused_and_changes_nothing()
    {
        var stale = (await Table.ReadAllAsync()).Version;
        Assert.True(await Table.InsertRowAsync(NewEntry(port: 1), stale.Next()));
        var before = await Table.ReadAllAsync();
        Assert.False(await Table.InsertRowAsync(NewEntry(port: 2), stale.Next()));
        Assert.False(await Table.InsertRowAsync(NewEntry(port: 3), new TableVersion(before.Version.Version + 1, "not-an-etag")));
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task An_update_takes_the_row_etag_and_the_version_and_spends_both()
    {
        await InsertAsync(NewEntry());
        var data = await Table.ReadAllAsync();
        var (entry, etag) = Assert.Single(data.Members);
        entry.Status = SiloStatus.Active;
        entry.SiloName = "renamed";
        Assert.True(await Table.UpdateRowAsync(entry, etag, data.Version.Next()));

        var after = await Table.ReadAllAsync();
        var (row, newEtag) = Assert.Single(after.Members);
        AssertSameEntry(entry, row);
        Assert.NotEqual(etag, newEtag);
        Assert.Equal(data.Version.Version + 1, after.Version.Version);
        Assert.NotEqual(data.Version.VersionEtag, after.Version.VersionEtag);

        // The old row etag is spent, and so is the old version.
        Assert.False(await Table.UpdateRowAsync(entry, etag, after.Version.Next()));
        Assert.False(await Table.UpdateRowAsync(entry, newEtag, data.Version.Next()));
        await AssertUnchangedAsync(after);
        Assert.True(await Table.UpdateRowAsync(entry, newEtag, after.Version.Next()));
    }

    [Fact]
    public async Task Updates_with_a_wrong_row_etag_or_of_a_missing_row_are_refused_and_change_nothing()
    {
        await InsertAsync(NewEntry());
        var before = await Table.ReadAllAsync();
        var (stored, etag) = Assert.Single(before.Members);
        var entry = NewEntry(SiloStatus.Dead);
        entry.SiloAddress = stored.SiloAddress;
        Assert.False(await Table.UpdateRowAsync(entry, etag + "1", before.Version.Next()));
        Assert.False(await Table.UpdateRowAsync(entry, "not-an-etag", before.Version.Next()));
        Assert.False(await Table.UpdateRowAsync(NewEntry(port: 2), etag, before.Version.Next()));
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task Suspect_votes_round_trip_and_can_be_withdrawn()
    {
        var entry = NewEntry(SiloStatus.Active);
        entry.AddSuspector(Voter(1), entry.IAmAliveTime.AddSeconds(1));
        entry.AddSuspector(Voter(2), entry.IAmAliveTime.AddSeconds(2.5));
        await InsertAsync(entry);
        var data = await Table.ReadAllAsync();
        var (row, etag) = Assert.Single(data.Members);
        AssertSameEntry(entry, row);

        row.SuspectTimes = null;
        Assert.True(await Table.UpdateRowAsync(row, etag, data.Version.Next()));
        Assert.Empty(Assert.Single((await Table.ReadAllAsync()).Members).Item1.SuspectTimes ?? []);
    }

    [Fact]
    public async Task UpdateIAmAlive_changes_only_IAmAliveTime()
    {
        var entry = NewEntry(SiloStatus.Active);
        entry.AddSuspector(Voter(1), entry.IAmAliveTime);
        await InsertAsync(entry);
        var before = await Table.ReadAllAsync();

        // As Orleans' membership agent calls it: only the address and the time are meaningful.
        var beat = new MembershipEntry { SiloAddress = entry.SiloAddress, IAmAliveTime = entry.IAmAliveTime.AddMinutes(5), Status = SiloStatus.Dead, SiloName = "ignored" };
        await OpenTable(ClusterId).UpdateIAmAliveAsync(beat);

        var after = await Table.ReadAllAsync();
        var (row, etag) = Assert.Single(after.Members);
        entry.IAmAliveTime = beat.IAmAliveTime;
        AssertSameEntry(entry, row);
        Assert.Equal(before.Members[0].Item2, etag);
        Assert.Equal(before.Version, after.Version);
    }

    [Fact]
    public async Task UpdateIAmAlive_of_a_missing_row_throws_and_creates_nothing()
    {
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Table.UpdateIAmAliveAsync(NewEntry(SiloStatus.Active)));
        Assert.Empty((await Table.ReadAllAsync()).Members);
    }

    [Fact]
    public async Task Of_racing_updates_with_the_same_etag_exactly_one_wins()
    {
        await InsertAsync(NewEntry());
        for (int round = 0; round < 2; round++)
        {
            var data = await Table.ReadAllAsync();
            var (entry, etag) = Assert.Single(data.Members);
            var results = await RaceAsync(6, async (table, i) =>
            {
                var mine = NewEntry();
                mine.SiloAddress = entry.SiloAddress;
                mine.SiloName = $"winner-{i}";
                return await table.UpdateRowAsync(mine, etag, data.Version.Next());
            });
            int winner = Assert.Single(Enumerable.Range(0, results.Length), i => results[i]);
            var after = await Table.ReadAllAsync();
            Assert.Equal($"winner-{winner}", Assert.Single(after.Members).Item1.SiloName);
            Assert.Equal(data.Version.Version + 1, after.Version.Version);
        }
    }

    [Fact]
    public async Task Of_racing_inserts_with_the_same_version_exactly_one_wins()
    {
        var version = (await Table.ReadAllAsync()).Version.Next();
        var entries = Enumerable.Range(0, 6).Select(i => NewEntry(port: 20000 + i)).ToArray();
        var results = await RaceAsync(entries.Length, (table, i) => table.InsertRowAsync(entries[i], version));
        int winner = Assert.Single(Enumerable.Range(0, results.Length), i => results[i]);
        var after = await Table.ReadAllAsync();
        Assert.Equal(entries[winner].SiloAddress, Assert.Single(after.Members).Item1.SiloAddress);
        Assert.Equal(version.Version, after.Version.Version);
    }

    [Fact]
    public async Task Concurrent_inserts_that_read_again_after_losing_all_land()
    {
        const int Silos = 5;
        await Task.WhenAll(Enumerable.Range(0, Silos).Select(i => Task.Run(async () =>
        {
            var table = OpenTable(ClusterId);
            var entry = NewEntry(port: 30000 + i);
            // Bounded: each loss means another silo's insert landed, so fewer than Silos are expected.
            for (int attempt = 0; attempt < 50; attempt++)
            {
                var data = await table.ReadAllAsync();
                if (await table.InsertRowAsync(entry, data.Version.Next())) return;
            }
            Assert.Fail($"silo {i} could not insert in 50 attempts");
        }))).WaitAsync(TimeSpan.FromSeconds(60));

        var after = await Table.ReadAllAsync();
        Assert.Equal(Silos, after.Members.Select(m => m.Item1.SiloAddress).Distinct().Count());
        Assert.Equal(Silos, after.Version.Version);
    }

    [Fact]
    public async Task CleanupDefunctSiloEntries_deletes_only_old_rows_that_are_not_Active()
    {
        var cutoff = new DateTime(2026, 6, 1, 0, 0, 0, DateTimeKind.Utc);
        var kept = new List<SiloAddress>();
        int port = 40000;
        foreach (var status in Enum.GetValues<SiloStatus>())
        {
            var old = NewEntry(status, port++, cutoff.AddDays(-1));
            var fresh = NewEntry(status, port++, cutoff.AddDays(1));
            await InsertAsync(old);
            await InsertAsync(fresh);
            kept.Add(fresh.SiloAddress);
            if (status == SiloStatus.Active) kept.Add(old.SiloAddress);
        }

        await Table.CleanupDefunctSiloEntriesAsync(new DateTimeOffset(cutoff));

        var left = (await Table.ReadAllAsync()).Members.Select(m => m.Item1.SiloAddress).ToHashSet();
        Assert.Equal(kept.ToHashSet(), left);
    }

    [Fact]
    public async Task DeleteMembershipTableEntries_deletes_that_cluster_only_and_the_table_stays_usable()
    {
        var other = OpenTable(ClusterId + "-other");
        await other.InitializeMembershipTableAsync(true);
        await InsertAsync(NewEntry(port: 1));
        var otherEntry = NewEntry(port: 2);
        Assert.True(await other.InsertRowAsync(otherEntry, (await other.ReadAllAsync()).Version.Next()));

        await Table.DeleteMembershipTableEntriesAsync(ClusterId);
        var empty = await Table.ReadAllAsync();
        Assert.Empty(empty.Members);
        AssertSameEntry(otherEntry, Assert.Single((await other.ReadAllAsync()).Members).Item1);

        // A silo that starts afterwards inserts with the version it reads.
        var next = NewEntry(port: 3);
        Assert.True(await Table.InsertRowAsync(next, empty.Version.Next()));
        Assert.False(await Table.InsertRowAsync(NewEntry(port: 4), empty.Version.Next()));
        AssertSameEntry(next, Assert.Single((await Table.ReadAllAsync()).Members).Item1);
        await other.DeleteMembershipTableEntriesAsync(ClusterId + "-other");
    }

    [Fact]
    public async Task The_gateway_list_provider_lists_exactly_the_Active_rows_with_a_gateway_port()
    {
        var active = new[] { NewEntry(SiloStatus.Active, 7001), NewEntry(SiloStatus.Active, 7003) };
        var noGateway = NewEntry(SiloStatus.Active, 7002);
        noGateway.ProxyPort = 0;
        foreach (var entry in active.Append(noGateway).Concat(
            [NewEntry(SiloStatus.Joining, 7004), NewEntry(SiloStatus.Dead, 7005), NewEntry(SiloStatus.ShuttingDown, 7006), NewEntry(SiloStatus.Created, 7007)]))
        {
            await InsertAsync(entry);
        }

        var provider = OpenGatewayListProvider(ClusterId);
        await provider.InitializeGatewayListProviderAsync();
        Assert.Equal(active.Select(GatewayUri).Order(), (await provider.GetGatewaysAsync()).Select(u => u.ToString()).Order());

        // A silo declared dead leaves the list at the next read.
        var data = await Table.ReadAllAsync();
        var (row, etag) = data.TryGet(active[0].SiloAddress)!;
        row.Status = SiloStatus.Dead;
        Assert.True(await Table.UpdateRowAsync(row, etag, data.Version.Next()));
        Assert.Equal([GatewayUri(active[1])], (await provider.GetGatewaysAsync()).Select(u => u.ToString()));
    }

    /// <summary>"gwy.tcp://ip:proxyPort/generation", what Orleans' clients connect to.</summary>
    private static string GatewayUri(MembershipEntry entry) =>
        SiloAddress.New(new IPEndPoint(entry.SiloAddress.Endpoint.Address, entry.ProxyPort), entry.SiloAddress.Generation).ToGatewayUri().ToString();

    /// <summary>Runs <paramref name="racers"/> calls at once, each on its own handle on the table, and returns their results.</summary>
    private async Task<bool[]> RaceAsync(int racers, Func<IMembershipTable, int, Task<bool>> call)
    {
        var tables = Enumerable.Range(0, racers).Select(_ => OpenTable(ClusterId)).ToList();
        using var start = new ManualResetEventSlim();
        var tasks = tables.Select((table, i) => Task.Run(async () =>
        {
            start.Wait(TimeSpan.FromSeconds(10));
            return await call(table, i);
        })).ToList();
        start.Set();
        return await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
    }
}
