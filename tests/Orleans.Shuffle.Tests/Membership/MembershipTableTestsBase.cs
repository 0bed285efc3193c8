using Orleans.Shuffle.Membership;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>
/// Conformance tests of <see cref="IMembershipTable"/>, written against the interface only, so every
/// implementation (the file table here, DynamoDB later) runs the same ones: derive and create a table.
/// </summary>
public abstract class MembershipTableTestsBase : IAsyncLifetime
{
    private static long s_nextGeneration = 1_000;

    /// <summary>A new, empty table of cluster <paramref name="clusterId"/>.</summary>
    protected abstract IMembershipTable CreateTable(string clusterId);

    /// <summary>A second handle on the same table (another process's view), for concurrency tests.</summary>
    protected abstract IMembershipTable OpenSameTable(string clusterId);

    protected string ClusterId { get; } = "test-" + Guid.NewGuid().ToString("N")[..8];

    protected IMembershipTable Table { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        Table = CreateTable(ClusterId);
        await Table.InitializeMembershipTable(tryInitTableVersion: true);
    }

    public virtual async Task DisposeAsync()
    {
        await Table.DeleteMembershipTableEntries(ClusterId);
    }

    protected static MembershipEntry NewEntry(SiloStatus status = SiloStatus.Joining, int port = 11111, DateTimeOffset? alive = null)
    {
        var now = alive ?? new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero).AddTicks(1234);
        return new MembershipEntry
        {
            SiloAddress = new SiloAddress("127.0.0.1", port, Interlocked.Increment(ref s_nextGeneration)),
            Status = status,
            ProxyPort = port,
            HttpPort = port + 1,
            HostName = "host",
            SiloName = $"silo-{port}",
            FaultZone = "az-1",
            StartTime = now,
            IAmAliveTime = now,
        };
    }

    private static void AssertSameEntry(MembershipEntry expected, MembershipEntry actual)
    {
        Assert.Equal(expected.SiloAddress, actual.SiloAddress);
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.ProxyPort, actual.ProxyPort);
        Assert.Equal(expected.HttpPort, actual.HttpPort);
        Assert.Equal(expected.HostName, actual.HostName);
        Assert.Equal(expected.SiloName, actual.SiloName);
        Assert.Equal(expected.RoleName, actual.RoleName);
        Assert.Equal(expected.FaultZone, actual.FaultZone);
        Assert.Equal(expected.StartTime, actual.StartTime);
        Assert.Equal(expected.IAmAliveTime, actual.IAmAliveTime);
        Assert.Equal(expected.SuspectTimes, actual.SuspectTimes);
    }

    [Fact]
    public async Task A_new_table_is_empty()
    {
        var data = await Table.ReadAll();
        Assert.Empty(data.Members);
    }

    [Fact]
    public async Task Insert_then_read()
    {
        var before = await Table.ReadAll();
        var entry = NewEntry();
        entry.SuspectTimes.Add(new SuspectVote("someone", entry.IAmAliveTime));
        Assert.True(await Table.InsertRow(entry, before.Version.Next()));

        var after = await Table.ReadAll();
        var row = Assert.Single(after.Members);
        AssertSameEntry(entry, row.Entry);
        Assert.False(string.IsNullOrEmpty(row.Etag));
        Assert.Equal(before.Version.Version + 1, after.Version.Version);
        Assert.NotEqual(before.Version.VersionEtag, after.Version.VersionEtag);
        Assert.Same(row, after.Find(entry.SiloAddress));
    }

    [Fact]
    public async Task Reads_are_copies()
    {
        var entry = NewEntry();
        Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        entry.Status = SiloStatus.Dead; // the caller's object is not the table's row
        var row = Assert.Single((await Table.ReadAll()).Members);
        Assert.Equal(SiloStatus.Joining, row.Entry.Status);
        row.Entry.Status = SiloStatus.Dead; // nor is what a read returns
        Assert.Equal(SiloStatus.Joining, Assert.Single((await Table.ReadAll()).Members).Entry.Status);
    }

    [Fact]
    public async Task Insert_duplicate_is_refused()
    {
        var entry = NewEntry();
        Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        var current = await Table.ReadAll();
        var duplicate = entry.Copy();
        duplicate.SiloName = "impostor";
        Assert.False(await Table.InsertRow(duplicate, current.Version.Next()));
        var after = await Table.ReadAll();
        Assert.Equal("silo-11111", Assert.Single(after.Members).Entry.SiloName);
        Assert.Equal(current.Version, after.Version);
    }

    [Fact]
    public async Task Insert_with_a_stale_version_etag_is_refused()
    {
        var stale = (await Table.ReadAll()).Version;
        Assert.True(await Table.InsertRow(NewEntry(port: 1), stale.Next()));
        Assert.False(await Table.InsertRow(NewEntry(port: 2), stale.Next()));
        Assert.Single((await Table.ReadAll()).Members);
    }

    [Fact]
    public async Task Update_with_a_wrong_row_etag_is_refused()
    {
        var entry = NewEntry();
        Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        var data = await Table.ReadAll();
        var row = Assert.Single(data.Members);
        var updated = row.Entry.Copy();
        updated.Status = SiloStatus.Active;
        Assert.False(await Table.UpdateRow(updated, row.Etag + "-not", data.Version.Next()));
        var after = await Table.ReadAll();
        Assert.Equal(SiloStatus.Joining, Assert.Single(after.Members).Entry.Status);
        Assert.Equal(row.Etag, after.Members[0].Etag);
        Assert.Equal(data.Version, after.Version);
    }

    [Fact]
    public async Task Update_with_a_stale_version_is_refused()
    {
        Assert.True(await Table.InsertRow(NewEntry(port: 1), (await Table.ReadAll()).Version.Next()));
        var data = await Table.ReadAll();
        var row = Assert.Single(data.Members);
        Assert.True(await Table.InsertRow(NewEntry(port: 2), data.Version.Next())); // the version moves on
        var updated = row.Entry.Copy();
        updated.Status = SiloStatus.Active;
        Assert.False(await Table.UpdateRow(updated, row.Etag, data.Version.Next()));
    }

    [Fact]
    public async Task Update_bumps_the_row_etag_and_the_version()
    {
        Assert.True(await Table.InsertRow(NewEntry(), (await Table.ReadAll()).Version.Next()));
        var data = await Table.ReadAll();
        var row = Assert.Single(data.Members);
        var updated = row.Entry.Copy();
        updated.Status = SiloStatus.Active;
        updated.SuspectTimes = [new SuspectVote("voter", updated.IAmAliveTime)];
        Assert.True(await Table.UpdateRow(updated, row.Etag, data.Version.Next()));

        var after = await Table.ReadAll();
        var newRow = Assert.Single(after.Members);
        AssertSameEntry(updated, newRow.Entry);
        Assert.NotEqual(row.Etag, newRow.Etag);
        Assert.Equal(data.Version.Version + 1, after.Version.Version);
        Assert.NotEqual(data.Version.VersionEtag, after.Version.VersionEtag);

        // The old etag is spent: a second update with it loses.
        Assert.False(await Table.UpdateRow(updated, row.Etag, after.Version.Next()));
        Assert.True(await Table.UpdateRow(updated, newRow.Etag, after.Version.Next()));
    }

    [Fact]
    public async Task UpdateIAmAlive_changes_only_IAmAliveTime()
    {
        var entry = NewEntry(SiloStatus.Active);
        Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        var before = await Table.ReadAll();
        var row = Assert.Single(before.Members);

        var beat = entry.Copy();
        beat.IAmAliveTime = entry.IAmAliveTime.AddMinutes(5);
        beat.Status = SiloStatus.Dead;       // ignored: only IAmAlive is written
        beat.SiloName = "renamed";           // ignored
        await Table.UpdateIAmAlive(beat);

        var after = await Table.ReadAll();
        var newRow = Assert.Single(after.Members);
        var expected = entry.Copy();
        expected.IAmAliveTime = beat.IAmAliveTime;
        AssertSameEntry(expected, newRow.Entry);
        Assert.Equal(row.Etag, newRow.Etag);
        Assert.Equal(before.Version, after.Version);
    }

    [Fact]
    public async Task Exactly_one_of_racing_updates_with_the_same_etag_wins()
    {
        Assert.True(await Table.InsertRow(NewEntry(), (await Table.ReadAll()).Version.Next()));
        for (int round = 0; round < 3; round++)
        {
            var data = await Table.ReadAll();
            var row = Assert.Single(data.Members);
            var tables = Enumerable.Range(0, 8).Select(_ => OpenSameTable(ClusterId)).ToList();
            using var start = new ManualResetEventSlim();
            var racers = tables.Select((table, i) => Task.Run(async () =>
            {
                start.Wait(TimeSpan.FromSeconds(10));
                var mine = row.Entry.Copy();
                mine.SiloName = $"winner-{i}";
                return (i, won: await table.UpdateRow(mine, row.Etag, data.Version.Next()));
            })).ToList();
            start.Set();
            var results = await Task.WhenAll(racers).WaitAsync(TimeSpan.FromSeconds(60));
            var winner = Assert.Single(results, r => r.won);
            Assert.Equal($"winner-{winner.i}", Assert.Single((await Table.ReadAll()).Members).Entry.SiloName);
        }
    }

    [Fact]
    public async Task Concurrent_inserts_that_retry_on_conflict_all_land()
    {
        const int Silos = 6;
        var tasks = Enumerable.Range(0, Silos).Select(i => Task.Run(async () =>
        {
            var table = OpenSameTable(ClusterId);
            var entry = NewEntry(port: 20000 + i);
            int conflicts = 0;
            // Bounded retries: each loss means another silo's insert landed, so at most Silos - 1 are expected.
            for (int attempt = 0; attempt < 50; attempt++)
            {
                var data = await table.ReadAll();
                if (await table.InsertRow(entry, data.Version.Next())) return conflicts;
                conflicts++;
            }
            throw new InvalidOperationException($"silo {i} could not insert");
        })).ToList();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        var after = await Table.ReadAll();
        Assert.Equal(Silos, after.Members.Count);
        Assert.Equal(Silos, after.Members.Select(m => m.Entry.SiloAddress).Distinct().Count());
        Assert.Equal(Silos, after.Version.Version);
    }

    [Fact]
    public async Task Cleanup_removes_only_old_rows_that_are_not_Active()
    {
        var cutoff = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
        var old = cutoff.AddDays(-1);
        var fresh = cutoff.AddDays(1);
        var oldActive = NewEntry(SiloStatus.Active, 1, old);
        var oldDead = NewEntry(SiloStatus.Dead, 2, old);
        var oldShuttingDown = NewEntry(SiloStatus.ShuttingDown, 3, old);
        var freshDead = NewEntry(SiloStatus.Dead, 4, fresh);
        var freshActive = NewEntry(SiloStatus.Active, 5, fresh);
        foreach (var entry in new[] { oldActive, oldDead, oldShuttingDown, freshDead, freshActive })
        {
            Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        }

        await Table.CleanupDefunctSiloEntries(cutoff);

        var left = (await Table.ReadAll()).Members.Select(m => m.Entry.SiloAddress).ToHashSet();
        Assert.Equal(new HashSet<SiloAddress> { oldActive.SiloAddress, freshDead.SiloAddress, freshActive.SiloAddress }, left);
    }

    [Fact]
    public async Task ReadRow_returns_that_row_and_the_version()
    {
        var a = NewEntry(port: 1);
        var b = NewEntry(port: 2);
        Assert.True(await Table.InsertRow(a, (await Table.ReadAll()).Version.Next()));
        Assert.True(await Table.InsertRow(b, (await Table.ReadAll()).Version.Next()));
        var all = await Table.ReadAll();

        var row = await Table.ReadRow(b.SiloAddress);
        AssertSameEntry(b, Assert.Single(row.Members).Entry);
        Assert.Equal(all.Find(b.SiloAddress)!.Etag, row.Members[0].Etag);
        Assert.Equal(all.Version, row.Version);

        var missing = await Table.ReadRow(new SiloAddress("127.0.0.1", 3, 1));
        Assert.Empty(missing.Members);
    }

    [Fact]
    public async Task DeleteMembershipTableEntries_clears_the_cluster()
    {
        Assert.True(await Table.InsertRow(NewEntry(port: 1), (await Table.ReadAll()).Version.Next()));
        await Table.DeleteMembershipTableEntries(ClusterId);
        Assert.Empty((await Table.ReadAll()).Members);
    }

    [Fact]
    public async Task The_gateway_list_provider_lists_the_grid_endpoints_of_the_Active_rows()
    {
        var rows = new[] { (SiloStatus.Active, 7001), (SiloStatus.Joining, 7002), (SiloStatus.Active, 7003), (SiloStatus.Dead, 7004), (SiloStatus.ShuttingDown, 7005) };
        foreach (var (status, port) in rows)
        {
            Assert.True(await Table.InsertRow(NewEntry(status, port), (await Table.ReadAll()).Version.Next()));
        }
        // Through another handle on the table, as a client process would read it.
        var provider = new MembershipTableGatewayListProvider(OpenSameTable(ClusterId));
        Assert.Equal(["127.0.0.1:7001", "127.0.0.1:7003"], await provider.GetGatewaysAsync(CancellationToken.None));

        // A silo declared dead leaves the list at the next read.
        var data = await Table.ReadAll();
        var row = data.Members.Single(m => m.Entry.ProxyPort == 7001);
        var dead = row.Entry.Copy();
        dead.Status = SiloStatus.Dead;
        Assert.True(await Table.UpdateRow(dead, row.Etag, data.Version.Next()));
        Assert.Equal(["127.0.0.1:7003"], await provider.GetGatewaysAsync(CancellationToken.None));
    }
}
