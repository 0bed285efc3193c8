using Orleans.Runtime;

namespace Orleans.Shuffle.Providers.Tests.Reminders;

/// <summary>
/// Conformance tests of Orleans' <see cref="IReminderTable"/>, written against the interface only, so
/// every implementation runs the same ones: derive, and open a table. The semantics are Orleans' (see
/// its ReminderTableTestsBase): an upsert returns a new etag, a removal must name the current one, and
/// ReadRows(begin, end) returns the grains whose <see cref="GrainId.GetUniformHashCode"/> is in the ring
/// range (begin, end], wrapping around when begin &gt;= end. Each test has its own service id.
/// </summary>
public abstract class ReminderTableTestsBase : IAsyncLifetime
{
    /// <summary>A handle on the table of <paramref name="serviceId"/>, as one silo opens it.</summary>
    protected abstract IReminderTable OpenTable(string serviceId);

    protected string ServiceId { get; } = "svc-" + Guid.NewGuid().ToString("N")[..8];

    protected IReminderTable Table { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        Table = OpenTable(ServiceId);
        await Table.StartAsync();
    }

    public virtual Task DisposeAsync() => Table.TestOnlyClearTable(CancellationToken.None);

    /// <summary>A grain with a key of awkward characters, as Orleans' own tests use.</summary>
    protected static GrainId NewGrain() => GrainId.Create("remindable", $"{Guid.NewGuid():N}/foo\\#bar?");

    protected static ReminderEntry NewReminder(GrainId grain, string name = "tick") => new()
    {
        GrainId = grain,
        ReminderName = name,
        StartAt = new DateTime(2026, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc),
        Period = TimeSpan.FromMinutes(1.5),
    };

    protected static void AssertSameReminder(ReminderEntry expected, ReminderEntry? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal((expected.GrainId, expected.ReminderName, expected.StartAt, expected.Period), (actual.GrainId, actual.ReminderName, actual.StartAt, actual.Period));
    }

    [Fact]
    public async Task An_upserted_reminder_reads_back_with_its_etag_and_another_upsert_takes_a_new_one()
    {
        var reminder = NewReminder(NewGrain(), "foo/bar\\#b_a_z?");
        string? etag = await Table.UpsertRow(reminder, CancellationToken.None);
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal(etag, reminder.ETag);

        var read = await OpenTable(ServiceId).ReadRow(reminder.GrainId, reminder.ReminderName, CancellationToken.None);
        AssertSameReminder(reminder, read);
        Assert.Equal(etag, read!.ETag);

        reminder.StartAt = reminder.StartAt.AddHours(1);
        reminder.Period = TimeSpan.FromSeconds(10);
        string? next = await Table.UpsertRow(reminder, CancellationToken.None);
        Assert.NotEqual(etag, next);
        read = await Table.ReadRow(reminder.GrainId, reminder.ReminderName, CancellationToken.None);
        AssertSameReminder(reminder, read);
        Assert.Equal(next, read!.ETag);
    }

    [Fact]
    public async Task Reading_a_missing_reminder_gives_null_and_a_grain_without_reminders_none()
    {
        Assert.Null(await Table.ReadRow(NewGrain(), "none", CancellationToken.None));
        Assert.Empty((await Table.ReadRows(NewGrain(), CancellationToken.None)).Reminders);
    }

    [Fact]
    public async Task ReadRows_of_a_grain_gives_its_reminders_only()
    {
        var grain = NewGrain();
        var mine = new[] { NewReminder(grain, "a"), NewReminder(grain, "b") };
        foreach (var reminder in mine.Append(NewReminder(NewGrain(), "a"))) await Table.UpsertRow(reminder, CancellationToken.None);

        var rows = (await Table.ReadRows(grain, CancellationToken.None)).Reminders.OrderBy(r => r.ReminderName).ToList();
        Assert.Equal(2, rows.Count);
        for (int i = 0; i < mine.Length; i++)
        {
            AssertSameReminder(mine[i], rows[i]);
            Assert.Equal(mine[i].ETag, rows[i].ETag);
        }
    }

    [Fact]
    public async Task A_removal_must_name_the_current_etag_and_the_reminder_then_is_gone()
    {
        var reminder = NewReminder(NewGrain());
        string stale = (await Table.UpsertRow(reminder, CancellationToken.None))!;
        string current = (await Table.UpsertRow(reminder, CancellationToken.None))!;

        Assert.False(await Table.RemoveRow(reminder.GrainId, reminder.ReminderName, stale, CancellationToken.None), "stale etag");
        Assert.False(await Table.RemoveRow(reminder.GrainId, "other-name", current, CancellationToken.None), "wrong name");
        Assert.False(await Table.RemoveRow(reminder.GrainId, reminder.ReminderName, "not-an-etag", CancellationToken.None), "not an etag");
        Assert.Equal(current, (await Table.ReadRow(reminder.GrainId, reminder.ReminderName, CancellationToken.None))?.ETag);

        Assert.True(await Table.RemoveRow(reminder.GrainId, reminder.ReminderName, current, CancellationToken.None));
        Assert.False(await Table.RemoveRow(reminder.GrainId, reminder.ReminderName, current, CancellationToken.None), "already removed");
        Assert.Null(await Table.ReadRow(reminder.GrainId, reminder.ReminderName, CancellationToken.None));
        Assert.Empty((await Table.ReadRows(reminder.GrainId, CancellationToken.None)).Reminders);
        Assert.Empty((await Table.ReadRows(0, 0, CancellationToken.None)).Reminders);

        // Made again, it takes an etag the removed one never had.
        string again = (await Table.UpsertRow(reminder, CancellationToken.None))!;
        Assert.NotEqual(stale, again);
        Assert.NotEqual(current, again);
    }

    [Fact]
    public async Task Parallel_upserts_of_one_reminder_each_get_their_own_etag()
    {
        var grain = NewGrain();
        var etags = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => Task.Run(async () =>
        {
            var reminder = NewReminder(grain);
            reminder.StartAt = reminder.StartAt.AddMilliseconds(i);
            return await OpenTable(ServiceId).UpsertRow(reminder, CancellationToken.None);
        })));
        Assert.Equal(5, etags.Distinct().Count());
        Assert.Contains((await Table.ReadRow(grain, "tick", CancellationToken.None))!.ETag, etags);
    }

    [Fact]
    public async Task Range_reads_follow_the_ring_including_wrap_around()
    {
        var reminders = Enumerable.Range(0, 40).Select(i => NewReminder(NewGrain(), $"r{i}")).ToList();
        await Task.WhenAll(reminders.Select(r => Table.UpsertRow(r, CancellationToken.None)));
        var hashes = reminders.Select(r => r.GrainId.GetUniformHashCode()).Order().ToArray();

        // The whole ring, both ways of saying it.
        Assert.Equal(40, (await Table.ReadRows(0, uint.MaxValue, CancellationToken.None)).Reminders.Count);
        Assert.Equal(40, (await Table.ReadRows(0, 0, CancellationToken.None)).Reminders.Count);
        Assert.Equal(40, (await Table.ReadRows(hashes[7], hashes[7], CancellationToken.None)).Reminders.Count);

        // Bounds on reminders themselves: begin is excluded, end included, on both sides of the wrap.
        var cases = new List<(uint Begin, uint End)>
        {
            (hashes[3], hashes[20]), (hashes[20], hashes[3]), (hashes[0], hashes[39]), (hashes[39], hashes[0]),
            (hashes[5] - 1, hashes[5]), (hashes[5], hashes[5] + 1), (uint.MaxValue, hashes[10]), (hashes[30], uint.MaxValue),
        };
        var random = new Random(7);
        for (int i = 0; i < 12; i++) cases.Add(((uint)random.NextInt64(0, uint.MaxValue + 1L), (uint)random.NextInt64(0, uint.MaxValue + 1L)));

        foreach (var (begin, end) in cases)
        {
            var expected = hashes.Where(h => begin < end ? h > begin && h <= end : h > begin || h <= end).Order();
            var actual = (await Table.ReadRows(begin, end, CancellationToken.None)).Reminders.Select(r => r.GrainId.GetUniformHashCode()).Order();
            Assert.True(expected.SequenceEqual(actual), $"range ({begin}, {end}]: expected {expected.Count()}, got {actual.Count()}");
        }
        var one = await Table.ReadRows(hashes[5] - 1, hashes[5], CancellationToken.None);
        AssertSameReminder(reminders.Single(r => r.GrainId.GetUniformHashCode() == hashes[5]), Assert.Single(one.Reminders));
    }

    [Fact]
    public async Task Services_are_kept_apart_and_clearing_one_leaves_the_other()
    {
        var other = OpenTable(ServiceId + "-other");
        await other.StartAsync();
        var grain = NewGrain();
        await Table.UpsertRow(NewReminder(grain), CancellationToken.None);
        await other.UpsertRow(NewReminder(grain, "theirs"), CancellationToken.None);

        Assert.Equal("tick", Assert.Single((await Table.ReadRows(grain, CancellationToken.None)).Reminders).ReminderName);
        Assert.Equal("tick", Assert.Single((await Table.ReadRows(0, 0, CancellationToken.None)).Reminders).ReminderName);
        await Table.TestOnlyClearTable(CancellationToken.None);
        Assert.Empty((await Table.ReadRows(0, 0, CancellationToken.None)).Reminders);
        Assert.Equal("theirs", Assert.Single((await other.ReadRows(0, 0, CancellationToken.None)).Reminders).ReminderName);
        await other.TestOnlyClearTable(CancellationToken.None);
    }
}
