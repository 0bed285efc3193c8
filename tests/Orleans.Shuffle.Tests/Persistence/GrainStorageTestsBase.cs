using System.Security.Cryptography;
using Orleans.Shuffle.Persistence;

namespace Orleans.Shuffle.Tests.Persistence;

/// <summary>
/// Conformance tests of <see cref="IGrainStorage"/>, written against the interface only, so every
/// implementation (files, DynamoDB) runs the same ones: derive and create a storage. Each test uses
/// its own grain id.
/// </summary>
public abstract class GrainStorageTestsBase : IAsyncLifetime
{
    protected const string GrainType = "shuffle";

    /// <summary>Large enough to take several DynamoDB items (2 MiB).</summary>
    protected const int LargeSize = 2 * 1024 * 1024;

    /// <summary>The state of an application with tens of thousands of partitions (~12 MiB).</summary>
    protected const int VeryLargeSize = 12 * 1024 * 1024 + 12_345;

    /// <summary>A new, empty storage.</summary>
    protected abstract Task<IGrainStorage> CreateStorageAsync();

    /// <summary>A second handle on the same storage (another silo's view), for concurrency tests.</summary>
    protected abstract IGrainStorage OpenSameStorage();

    protected IGrainStorage Storage { get; private set; } = null!;

    protected string GrainId { get; } = "app-" + Guid.NewGuid().ToString("N")[..12];

    public virtual async Task InitializeAsync() => Storage = await CreateStorageAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Bytes that differ with <paramref name="seed"/> everywhere, so a mix of two states shows.</summary>
    protected static byte[] State(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static void AssertSameBytes(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(expected.AsSpan().SequenceEqual(actual), "the state read differs from the state written");
    }

    [Fact]
    public async Task Reading_a_state_never_written_gives_null()
    {
        Assert.Null(await Storage.ReadStateAsync(GrainType, GrainId));
    }

    [Fact]
    public async Task A_written_state_reads_back_with_its_etag()
    {
        var data = State(1000, 1);
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, data, null);
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        Assert.NotNull(stored);
        AssertSameBytes(data, stored.Data);
        Assert.Equal(etag, stored.ETag);

        // Another silo reads the same.
        var other = await OpenSameStorage().ReadStateAsync(GrainType, GrainId);
        Assert.NotNull(other);
        AssertSameBytes(data, other.Data);
        Assert.Equal(etag, other.ETag);
    }

    [Fact]
    public async Task An_empty_state_is_a_state()
    {
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, Array.Empty<byte>(), null);
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        Assert.NotNull(stored);
        Assert.Empty(stored.Data);
        Assert.Equal(etag, stored.ETag);
    }

    [Fact]
    public async Task Each_write_takes_the_etag_it_read_and_returns_a_new_one()
    {
        var etags = new List<string> { await Storage.WriteStateAsync(GrainType, GrainId, State(10, 1), null) };
        for (int i = 2; i <= 4; i++) etags.Add(await Storage.WriteStateAsync(GrainType, GrainId, State(10, i), etags[^1]));
        Assert.Equal(etags.Count, etags.Distinct().Count());
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(State(10, 4), stored!.Data);
        Assert.Equal(etags[^1], stored.ETag);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_refused()
    {
        string first = await Storage.WriteStateAsync(GrainType, GrainId, State(100, 1), null);
        string second = await Storage.WriteStateAsync(GrainType, GrainId, State(100, 2), first);
        await Assert.ThrowsAsync<InconsistentStateException>(() => OpenSameStorage().WriteStateAsync(GrainType, GrainId, State(100, 3), first));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(GrainType, GrainId, State(100, 3), null));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(GrainType, GrainId, State(100, 3), "not-an-etag"));
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(State(100, 2), stored!.Data);
        Assert.Equal(second, stored.ETag);
    }

    [Fact]
    public async Task A_first_write_that_names_an_etag_is_refused()
    {
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(GrainType, GrainId, State(100, 1), "1"));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), "0"));
        Assert.Null(await Storage.ReadStateAsync(GrainType, GrainId));
    }

    [Fact]
    public async Task Of_concurrent_first_writers_exactly_one_wins()
    {
        await AssertOneWinnerAsync(expectedETag: null, size: 200);
    }

    [Fact]
    public async Task Of_concurrent_writers_with_the_same_etag_exactly_one_wins()
    {
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, State(200, 1), null);
        await AssertOneWinnerAsync(etag, size: 200);
    }

    [Fact]
    public async Task Of_concurrent_writers_of_large_states_exactly_one_wins()
    {
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        await AssertOneWinnerAsync(etag, size: LargeSize / 2 + 1, writers: 3);
    }

    private async Task AssertOneWinnerAsync(string? expectedETag, int size, int writers = 8)
    {
        var storages = Enumerable.Range(0, writers).Select(_ => OpenSameStorage()).ToList();
        using var start = new ManualResetEventSlim();
        var tasks = storages.Select((storage, i) => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                return (Writer: i, ETag: await storage.WriteStateAsync(GrainType, GrainId, State(size, 100 + i), expectedETag));
            }
            catch (InconsistentStateException)
            {
                return (Writer: i, ETag: (string?)null);
            }
        })).ToList();
        start.Set();
        var results = await Task.WhenAll(tasks);

        var winner = Assert.Single(results, r => r.ETag is not null);
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(State(size, 100 + winner.Writer), stored!.Data);
        Assert.Equal(winner.ETag, stored.ETag);
        await AssertOnlyCurrentStateStoredAsync();
    }

    [Fact]
    public async Task A_large_state_round_trips()
    {
        var data = State(LargeSize + 7, 1);
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, data, null);
        var stored = await OpenSameStorage().ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(data, stored!.Data);
        Assert.Equal(etag, stored.ETag);

        // And is replaced by another large one.
        var next = State(LargeSize - 3, 2);
        string nextETag = await Storage.WriteStateAsync(GrainType, GrainId, next, etag);
        stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(next, stored!.Data);
        Assert.Equal(nextETag, stored.ETag);
    }

    [Fact]
    public async Task A_state_of_tens_of_thousands_of_partitions_round_trips()
    {
        var data = State(VeryLargeSize, 3);
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, data, null);
        var stored = await OpenSameStorage().ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(data, stored!.Data);
        Assert.Equal(etag, stored.ETag);
        await Storage.ClearStateAsync(GrainType, GrainId, etag);
        Assert.Null(await Storage.ReadStateAsync(GrainType, GrainId));
    }

    [Fact]
    public async Task A_large_state_shrunk_to_a_small_one_leaves_nothing_of_it_readable()
    {
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        var small = State(300, 2);
        etag = await Storage.WriteStateAsync(GrainType, GrainId, small, etag);
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(small, stored!.Data);
        Assert.Equal(etag, stored.ETag);
        await AssertOnlyCurrentStateStoredAsync();

        // And grows again.
        var large = State(LargeSize * 2, 3);
        etag = await Storage.WriteStateAsync(GrainType, GrainId, large, etag);
        stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(large, stored!.Data);
        await AssertOnlyCurrentStateStoredAsync();
    }

    /// <summary>Looks under the contract: nothing of an earlier state is stored any more. Implementations that can look, do.</summary>
    protected virtual Task AssertOnlyCurrentStateStoredAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_cleared_state_reads_as_null_and_can_be_written_again()
    {
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        await Storage.ClearStateAsync(GrainType, GrainId, etag);
        Assert.Null(await Storage.ReadStateAsync(GrainType, GrainId));
        Assert.Null(await OpenSameStorage().ReadStateAsync(GrainType, GrainId));
        await AssertOnlyCurrentStateStoredAsync();

        // A second clear of the same state is refused; clearing "no state" is a no-op.
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.ClearStateAsync(GrainType, GrainId, etag));
        await Storage.ClearStateAsync(GrainType, GrainId, null);

        var again = State(50, 2);
        string next = await Storage.WriteStateAsync(GrainType, GrainId, again, null);
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(again, stored!.Data);
        Assert.Equal(next, stored.ETag);
    }

    [Fact]
    public async Task A_clear_with_a_stale_etag_is_refused()
    {
        string first = await Storage.WriteStateAsync(GrainType, GrainId, State(100, 1), null);
        string second = await Storage.WriteStateAsync(GrainType, GrainId, State(100, 2), first);
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.ClearStateAsync(GrainType, GrainId, first));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.ClearStateAsync(GrainType, GrainId, null));
        var stored = await Storage.ReadStateAsync(GrainType, GrainId);
        AssertSameBytes(State(100, 2), stored!.Data);
        Assert.Equal(second, stored.ETag);
    }

    [Fact]
    public async Task Grains_and_grain_types_are_kept_apart()
    {
        string otherGrain = GrainId + "-other";
        await Storage.WriteStateAsync(GrainType, GrainId, State(LargeSize, 1), null);
        await Storage.WriteStateAsync(GrainType, otherGrain, State(100, 2), null);
        await Storage.WriteStateAsync("other-type", GrainId, State(100, 3), null);
        AssertSameBytes(State(LargeSize, 1), (await Storage.ReadStateAsync(GrainType, GrainId))!.Data);
        AssertSameBytes(State(100, 2), (await Storage.ReadStateAsync(GrainType, otherGrain))!.Data);
        AssertSameBytes(State(100, 3), (await Storage.ReadStateAsync("other-type", GrainId))!.Data);
    }

    [Fact]
    public async Task Ids_that_are_not_of_the_id_alphabet_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Storage.ReadStateAsync(GrainType, "../x"));
        await Assert.ThrowsAsync<ArgumentException>(() => Storage.WriteStateAsync("a#chunk#b", GrainId, State(1, 1), null));
    }

    [Fact]
    public async Task A_reader_racing_a_writer_of_large_states_sees_one_state_whole()
    {
        // Three large states of different sizes; the reader must always see exactly one of them.
        var states = new[] { State(LargeSize, 11), State(LargeSize / 2 + 5, 12), State(LargeSize + 1000, 13) };
        var hashes = states.Select(s => Convert.ToHexString(SHA256.HashData(s))).ToList();
        string etag = await Storage.WriteStateAsync(GrainType, GrainId, states[0], null);

        const int Writes = 8;
        var reader = OpenSameStorage();
        using var done = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            try
            {
                for (int i = 1; i <= Writes; i++) etag = await Storage.WriteStateAsync(GrainType, GrainId, states[i % states.Length], etag);
            }
            finally
            {
                done.Cancel();
            }
        });

        int reads = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((!done.IsCancellationRequested || reads < 3) && DateTime.UtcNow < deadline)
        {
            var stored = await reader.ReadStateAsync(GrainType, GrainId);
            Assert.NotNull(stored);
            Assert.Contains(Convert.ToHexString(SHA256.HashData(stored.Data)), hashes);
            reads++;
        }
        await writer;
        Assert.True(reads >= 3, $"only {reads} reads");
        AssertSameBytes(states[Writes % states.Length], (await reader.ReadStateAsync(GrainType, GrainId))!.Data);
    }
}
