using System.Security.Cryptography;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orleans.Shuffle.Providers.Tests.Persistence;

/// <summary>
/// Conformance tests of Orleans' <see cref="IGrainStorage"/>, written against the interface only, so
/// every implementation runs the same ones: derive, and open a storage. States go through the silo's
/// default grain storage serializer (JSON), as in a silo. The semantics are Orleans' (see its
/// Orleans.Persistence.TestKit): a write names the etag it read or none, a stale etag is an
/// <see cref="InconsistentStateException"/> that changes nothing, a clear reads as no record.
/// Each test has its own grain id.
/// </summary>
public abstract class GrainStorageTestsBase : IAsyncLifetime
{
    protected const string StateName = "shuffle";

    /// <summary>A payload whose JSON (base64) is about 2 MiB: several DynamoDB items.</summary>
    protected const int LargePayload = 1536 * 1024;

    /// <summary>A payload whose JSON is about 12 MiB: the state of an application with tens of thousands of partitions.</summary>
    protected const int VeryLargePayload = 9 * 1024 * 1024;

    /// <summary>A handle on the storage, as one silo opens it; every call opens another handle on the same store.</summary>
    protected abstract IGrainStorage OpenStorage();

    /// <summary>Checks that the store keeps the current state of the test's grain and nothing of states it replaced.</summary>
    protected abstract Task AssertOnlyCurrentStateStoredAsync();

    protected IGrainStorage Storage { get; private set; } = null!;

    protected GrainId GrainId { get; } = GrainId.Create("shuffle-grain", "app-" + Guid.NewGuid().ToString("N")[..12]);

    public virtual Task InitializeAsync()
    {
        Storage = OpenStorage();
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A state whose payload differs with <paramref name="seed"/> everywhere, so a mix of two states shows.</summary>
    protected static TestState State(int payload, int seed)
    {
        var bytes = new byte[payload];
        new Random(seed).NextBytes(bytes);
        return new TestState { Name = $"state-{seed}", Count = seed, Payload = bytes };
    }

    protected static GrainState<TestState> Written(TestState state, string? etag = null) => new() { State = state, ETag = etag };

    protected async Task<GrainState<TestState>> ReadAsync(IGrainStorage? storage = null, string stateName = StateName, GrainId? grainId = null)
    {
        var read = new GrainState<TestState> { State = new TestState() };
        await (storage ?? Storage).ReadStateAsync(stateName, grainId ?? GrainId, read);
        return read;
    }

    protected async Task<string> WriteAsync(TestState state, string? etag, IGrainStorage? storage = null)
    {
        var written = Written(state, etag);
        await (storage ?? Storage).WriteStateAsync(StateName, GrainId, written);
        Assert.True(written.RecordExists);
        Assert.NotNull(written.ETag);
        return written.ETag;
    }

    private async Task AssertStoredAsync(TestState expected, string etag)
    {
        var read = await ReadAsync(OpenStorage());
        Assert.True(read.RecordExists);
        Assert.Equal(expected, read.State);
        Assert.Equal(etag, read.ETag);
    }

    [Fact]
    public async Task Reading_a_state_never_written_gives_no_record_no_etag_and_an_empty_state()
    {
        var read = new GrainState<TestState> { State = State(10, 1), ETag = "stale", RecordExists = true };
        await Storage.ReadStateAsync(StateName, GrainId, read);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
        Assert.Equal(new TestState(), read.State);
    }

    [Fact]
    public async Task A_written_state_reads_back_with_its_etag_from_another_silo()
    {
        var state = State(1000, 1);
        string etag = await WriteAsync(state, null);
        await AssertStoredAsync(state, etag);
    }

    [Fact]
    public async Task Each_write_takes_the_etag_it_read_and_returns_a_new_one()
    {
        var etags = new List<string> { await WriteAsync(State(10, 1), null) };
        for (int i = 2; i <= 4; i++) etags.Add(await WriteAsync(State(10, i), etags[^1]));
        Assert.Equal(etags.Count, etags.Distinct().Count());
        await AssertStoredAsync(State(10, 4), etags[^1]);
    }

    [Fact]
    public async Task A_write_with_a_stale_or_no_or_foreign_etag_is_refused_and_changes_nothing()
    {
        string first = await WriteAsync(State(100, 1), null);
        string second = await WriteAsync(State(100, 2), first);
        foreach (string? wrong in new[] { first, null, "not-an-etag", second + "0" })
        {
            var stale = Written(State(100, 3), wrong);
            await Assert.ThrowsAsync<InconsistentStateException>(() => OpenStorage().WriteStateAsync(StateName, GrainId, stale));
            Assert.Equal(wrong, stale.ETag);
        }
        await AssertStoredAsync(State(100, 2), second);
    }

    [Fact]
    public async Task A_first_write_that_names_an_etag_is_refused_and_writes_nothing()
    {
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, GrainId, Written(State(100, 1), "0")));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, GrainId, Written(State(LargePayload, 1), "1")));
        Assert.False((await ReadAsync()).RecordExists);
        await AssertOnlyCurrentStateStoredAsync();
    }

    [Fact]
    public Task Of_concurrent_first_writers_exactly_one_wins() => AssertOneWinnerAsync(etag: null, payload: 200, writers: 6);

    [Fact]
    public async Task Of_concurrent_writers_with_the_same_etag_exactly_one_wins()
    {
        string etag = await WriteAsync(State(200, 1), null);
        await AssertOneWinnerAsync(etag, payload: 200, writers: 6);
    }

    [Fact]
    public async Task Of_concurrent_writers_of_large_states_exactly_one_wins_and_no_loser_leaves_anything()
    {
        string etag = await WriteAsync(State(LargePayload, 1), null);
        await AssertOneWinnerAsync(etag, payload: LargePayload / 2, writers: 3);
    }

    private async Task AssertOneWinnerAsync(string? etag, int payload, int writers)
    {
        var storages = Enumerable.Range(0, writers).Select(_ => OpenStorage()).ToList();
        using var start = new ManualResetEventSlim();
        var tasks = storages.Select((storage, i) => Task.Run(async () =>
        {
            start.Wait(TimeSpan.FromSeconds(10));
            try
            {
                return (Writer: i, ETag: (string?)await WriteAsync(State(payload, 100 + i), etag, storage));
            }
            catch (InconsistentStateException)
            {
                return (Writer: i, ETag: null);
            }
        })).ToList();
        start.Set();
        var results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));

        var winner = Assert.Single(results, r => r.ETag is not null);
        await AssertStoredAsync(State(payload, 100 + winner.Writer), winner.ETag!);
        await AssertOnlyCurrentStateStoredAsync();
    }

    [Fact]
    public async Task A_cleared_state_reads_as_no_record_and_the_next_write_takes_the_clear_etag()
    {
        var state = Written(State(100, 1));
        await Storage.WriteStateAsync(StateName, GrainId, state);
        string written = state.ETag!;
        await Storage.ClearStateAsync(StateName, GrainId, state);
        Assert.False(state.RecordExists);
        Assert.NotEqual(written, state.ETag);
        Assert.Equal(new TestState(), state.State);

        var read = await ReadAsync(OpenStorage());
        Assert.False(read.RecordExists);
        Assert.Equal(new TestState(), read.State);
        Assert.Equal(state.ETag, read.ETag);
        await AssertOnlyCurrentStateStoredAsync();

        // The grain writes again with what it read; an activation from before the clear is refused.
        string again = await WriteAsync(State(50, 2), read.ETag);
        Assert.NotEqual(written, again);
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(StateName, GrainId, Written(State(10, 3), written)));
        await AssertStoredAsync(State(50, 2), again);
    }

    [Fact]
    public async Task A_clear_with_a_stale_or_no_etag_is_refused_and_changes_nothing()
    {
        string first = await WriteAsync(State(100, 1), null);
        string second = await WriteAsync(State(LargePayload, 2), first);
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.ClearStateAsync(StateName, GrainId, Written(new TestState(), first)));
        await Assert.ThrowsAsync<InconsistentStateException>(() => OpenStorage().ClearStateAsync(StateName, GrainId, Written(new TestState())));
        await AssertStoredAsync(State(LargePayload, 2), second);
        await AssertOnlyCurrentStateStoredAsync();
    }

    [Fact]
    public async Task Clearing_before_any_write_and_clearing_twice_both_succeed()
    {
        var never = Written(State(10, 1));
        never.RecordExists = true;
        await Storage.ClearStateAsync(StateName, GrainId, never);
        Assert.False(never.RecordExists);
        Assert.Equal(new TestState(), never.State);

        var state = Written(State(10, 2));
        await Storage.WriteStateAsync(StateName, GrainId, state);
        await Storage.ClearStateAsync(StateName, GrainId, state);
        await Storage.ClearStateAsync(StateName, GrainId, state);
        Assert.False(state.RecordExists);
        Assert.False((await ReadAsync()).RecordExists);
        await WriteAsync(State(10, 3), state.ETag);
    }

    [Fact]
    public async Task State_names_and_grains_are_kept_apart()
    {
        var otherGrain = GrainId.Create("shuffle-grain", GrainId.Key + "-other");
        await WriteAsync(State(300, 1), null);
        await Storage.WriteStateAsync("other-state", GrainId, Written(State(300, 2)));
        await Storage.WriteStateAsync(StateName, otherGrain, Written(State(300, 3)));
        Assert.Equal(State(300, 1), (await ReadAsync()).State);
        Assert.Equal(State(300, 2), (await ReadAsync(stateName: "other-state")).State);
        Assert.Equal(State(300, 3), (await ReadAsync(grainId: otherGrain)).State);
    }

    [Fact]
    public async Task A_2_MiB_state_round_trips_and_is_replaced_by_another()
    {
        string etag = await WriteAsync(State(LargePayload + 7, 1), null);
        await AssertStoredAsync(State(LargePayload + 7, 1), etag);
        etag = await WriteAsync(State(LargePayload - 3, 2), etag);
        await AssertStoredAsync(State(LargePayload - 3, 2), etag);
        await AssertOnlyCurrentStateStoredAsync();
    }

    [Fact]
    public async Task A_12_MiB_state_round_trips_and_clears()
    {
        var state = Written(State(VeryLargePayload, 3));
        await Storage.WriteStateAsync(StateName, GrainId, state);
        await AssertStoredAsync(State(VeryLargePayload, 3), state.ETag!);
        await Storage.ClearStateAsync(StateName, GrainId, state);
        Assert.False((await ReadAsync()).RecordExists);
        await AssertOnlyCurrentStateStoredAsync();
    }

    [Fact]
    public async Task A_large_state_shrunk_to_a_small_one_leaves_nothing_of_it_and_grows_again()
    {
        string etag = await WriteAsync(State(LargePayload, 1), null);
        etag = await WriteAsync(State(300, 2), etag);
        await AssertStoredAsync(State(300, 2), etag);
        await AssertOnlyCurrentStateStoredAsync();

        etag = await WriteAsync(State(LargePayload / 2, 3), etag);
        await AssertStoredAsync(State(LargePayload / 2, 3), etag);
        await AssertOnlyCurrentStateStoredAsync();
    }

    [Fact]
    public async Task A_reader_racing_a_writer_of_large_states_sees_one_state_whole()
    {
        // Three large states of different sizes; every read must be exactly one of them.
        var states = new[] { State(LargePayload, 11), State(LargePayload / 2 + 5, 12), State(LargePayload + 1000, 13) };
        var hashes = states.Select(Fingerprint).ToList();
        string etag = await WriteAsync(states[0], null);

        const int Writes = 6;
        var reader = OpenStorage();
        using var done = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            try
            {
                for (int i = 1; i <= Writes; i++) etag = await WriteAsync(states[i % states.Length], etag);
            }
            finally
            {
                done.Cancel();
            }
        });

        int reads = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        // Bounded by the deadline.
        while ((!done.IsCancellationRequested || reads < 3) && DateTime.UtcNow < deadline)
        {
            var read = await ReadAsync(reader);
            Assert.True(read.RecordExists);
            Assert.Contains(Fingerprint(read.State!), hashes);
            reads++;
        }
        await writer;
        Assert.True(reads >= 3, $"only {reads} reads");
        Assert.Equal(states[Writes % states.Length], (await ReadAsync(reader)).State);
    }

    private static string Fingerprint(TestState state) => $"{state.Name}/{state.Count}/{Convert.ToHexString(SHA256.HashData(state.Payload))}";
}

/// <summary>A grain state as the JSON serializer sees it: a name, a number and a payload of bytes (base64 in JSON).</summary>
public sealed class TestState : IEquatable<TestState>
{
    public string? Name { get; set; }

    public int Count { get; set; }

    public byte[] Payload { get; set; } = [];

    public bool Equals(TestState? other) =>
        other is not null && Name == other.Name && Count == other.Count && Payload.AsSpan().SequenceEqual(other.Payload);

    public override bool Equals(object? obj) => Equals(obj as TestState);

    public override int GetHashCode() => HashCode.Combine(Name, Count, Payload.Length);

    public override string ToString() => $"{Name}/{Count}/{Payload.Length} bytes";
}
