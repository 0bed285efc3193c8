using System.Text;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>
/// The writer against a scripted grid: bounded pushes in flight, and its fault tolerance (revive after
/// failed pushes, resends, splits, MapEnded).
/// </summary>
public class ShuffleWriterReviveTests
{
    private static readonly SiloEndpoint SiloA = new("silo-a@1", "silo-a", "a", 1);
    private static readonly SiloEndpoint SiloB = new("silo-b@2", "silo-b", "b", 2);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Tiny buffers: every record (at most 8 bytes) is a batch of its own, and every batch a push of
    /// its own. A batch is sealed when the next record of its partition comes, or at close.
    /// </summary>
    private static GridClientOptions Options(Action<GridClientOptions>? configure = null)
    {
        var options = new GridClientOptions
        {
            PushBufferBytes = ShuffleWriter.EntryPrefixBytes + 12,
            MergedPushBytes = 1,
            MaxPushesInFlightPerSilo = 4,
            ReviveBatchWindow = TimeSpan.FromMilliseconds(20),
        };
        configure?.Invoke(options);
        options.Validate();
        return options;
    }

    private static ShuffleWriter Writer(FakePushTransport transport, GridClientOptions options, params PartitionLocation[] locations) =>
        new(transport, options, "app", 7, mapId: 3, attemptId: 1, locations);

    private static PartitionLocation At(int partition, int epoch, SiloEndpoint silo) => new(partition, epoch, silo, null);

    private static byte[] Record(int partition, int i) => Encoding.UTF8.GetBytes($"p{partition}r{i}");

    /// <summary>Each record is one batch, so the batch ids of a partition are 0..count-1.</summary>
    private static async Task WriteAsync(ShuffleWriter writer, int partition, int from, int count)
    {
        for (int i = from; i < from + count; i++) await writer.WriteAsync(partition, Record(partition, i));
    }

    private static void AssertEveryBatchStoredOnce(FakePushTransport transport, int partition, int batches, Func<PushedEntry, bool> where)
    {
        var stored = transport.StoredEntries.Where(e => e.PartitionId == partition && where(e)).ToList();
        Assert.Equal(Enumerable.Range(0, batches), stored.Select(e => e.BatchId).Order());
        foreach (var entry in stored)
        {
            Assert.Equal((3, 1), (entry.MapId, entry.AttemptId));
            Assert.Equal($"p{partition}r{entry.BatchId}", Encoding.UTF8.GetString(entry.Payload.AsSpan(4)));
        }
    }

    [Fact]
    public async Task At_most_MaxPushesInFlightPerSilo_pushes_wait_on_a_slow_silo_and_further_records_for_it_wait_too()
    {
        // Silo A answers a push only when the test lets it; B answers at once.
        var answer = new SemaphoreSlim(0);
        var inFlightLock = new Lock();
        int inFlight = 0, maxInFlight = 0;
        bool open = false;
        var transport = new FakePushTransport
        {
            OnPush = async call =>
            {
                if (call.Host != "a") return PushReply.None;
                lock (inFlightLock) maxInFlight = Math.Max(maxInFlight, ++inFlight);
                if (!Volatile.Read(ref open)) await answer.WaitAsync();
                lock (inFlightLock) inFlight--;
                return PushReply.None;
            },
        };
        await using var writer = Writer(transport, Options(o => o.MaxPushesInFlightPerSilo = 2), At(0, 0, SiloA), At(1, 0, SiloB));

        // Records 1, 2 and 3 seal batches 0, 1 and 2 of partition 0: two take A's slots, the third waits for one.
        for (int i = 0; i < 4; i++) Assert.True(writer.TryWrite(0, Record(0, i)));
        await WaitUntilAsync(() => transport.Pushes.Count(c => c.Host == "a") >= 2);
        Assert.Equal(2, transport.Pushes.Count(c => c.Host == "a"));
        // A full push waits for A: no further batch for A is accepted, so memory does not grow.
        Assert.False(writer.TryWrite(0, Record(0, 4)));

        // The bound is per silo: records for B are still taken and pushed while A holds its two.
        for (int i = 0; i < 4; i++) Assert.True(writer.TryWrite(1, Record(1, i)));
        await WaitUntilAsync(() => transport.Stored.Count(c => c.Host == "b") >= 2);
        Assert.Equal(2, transport.Pushes.Count(c => c.Host == "a"));
        Assert.DoesNotContain(transport.Stored, c => c.Host == "a");

        // Waiting for A's capacity: the write cannot complete before A answers.
        var blocked = writer.WriteAsync(0, Record(0, 4)).AsTask();
        Assert.False(blocked.IsCompleted);

        // A answers one push: its slot goes to the waiting push, and the blocked record is taken.
        answer.Release();
        await blocked.WaitAsync(Generous);
        Assert.Single(transport.Stored, c => c.Host == "a");
        await WaitUntilAsync(() => transport.Pushes.Count(c => c.Host == "a") >= 3);
        Assert.Equal(3, transport.Pushes.Count(c => c.Host == "a"));

        Volatile.Write(ref open, true);
        answer.Release(100);
        await writer.CloseAsync().WaitAsync(Generous);
        Assert.Equal(2, maxInFlight);
        AssertEveryBatchStoredOnce(transport, 0, 5, e => e.Epoch == 0);
        AssertEveryBatchStoredOnce(transport, 1, 4, e => e.Epoch == 0);
        Assert.Empty(transport.Revives);
    }

    [Fact]
    public async Task A_failed_push_revives_its_partitions_and_resends_the_same_batch_ids_to_the_new_epoch()
    {
        var transport = new FakePushTransport
        {
            OnPush = call => call.Host == "a" ? FakePushTransport.Fail(GridErrorCode.SiloUnavailable) : Task.FromResult(PushReply.None),
        };
        await using var writer = Writer(transport, Options(), At(0, 0, SiloA), At(1, 0, SiloA));

        await WriteAsync(writer, 0, 0, 3);
        await WriteAsync(writer, 1, 0, 2);
        var reply = await writer.CloseAsync().WaitAsync(Generous);
        Assert.True(reply.Won);

        // Every batch that failed on A went to epoch 1 on B with its batch id, and nothing else went there.
        var failedOnA = transport.Pushes.Where(c => c.Host == "a").SelectMany(c => c.Entries).ToList();
        Assert.NotEmpty(failedOnA);
        Assert.All(failedOnA, e => Assert.Equal(0, e.Epoch));
        var onB = transport.Stored.Where(c => c.Host == "b").SelectMany(c => c.Entries).ToList();
        Assert.All(onB, e => Assert.Equal(1, e.Epoch));
        Assert.DoesNotContain(transport.Stored, c => c.Host == "a");
        foreach (var entry in failedOnA) Assert.Contains(onB, e => e.PartitionId == entry.PartitionId && e.BatchId == entry.BatchId);
        AssertEveryBatchStoredOnce(transport, 0, 3, e => true);
        AssertEveryBatchStoredOnce(transport, 1, 2, e => true);

        // Each partition was revived once, excluding the failed silo, before MapperEnd.
        var revives = transport.Revives.ToList();
        Assert.All(revives, r => Assert.Equal(("app", 7), (r.AppId, r.ShuffleId)));
        Assert.All(revives, r => Assert.Equal(["silo-a@1"], r.ExcludedSilos));
        Assert.Equal([new PartitionRef(0, 0), new PartitionRef(1, 0)],
            revives.SelectMany(r => r.Partitions).OrderBy(p => p.PartitionId));
        Assert.Equal(2, writer.Revives);
        Assert.Equal(revives.Count, writer.ReviveRequests);
        // Batches sealed for A after it failed were not sent there, but resent at once.
        Assert.InRange(writer.BatchesResent, failedOnA.Count, 5);
        Assert.Equal(5, writer.BatchesPushed);
        Assert.Equal(transport.Stored.Count, transport.StoredAtMapperEnd);
        Assert.Equal(new MapperEndCall("app", 7, 3, 1), Assert.Single(transport.MapperEnds));
        Assert.Equal(0, transport.PushFailedCalls);
    }

    [Fact]
    public async Task Later_records_of_a_revived_partition_go_to_the_new_location()
    {
        var transport = new FakePushTransport
        {
            OnPush = call => call.Host == "a" ? FakePushTransport.Fail(GridErrorCode.ConnectionLost) : Task.FromResult(PushReply.None),
        };
        await using var writer = Writer(transport, Options(), At(0, 4, SiloA));

        await WriteAsync(writer, 0, 0, 2);
        await writer.FlushPendingAsync();
        await WaitUntilAsync(() => writer.Revives == 1);
        int pushesToA = transport.Pushes.Count(c => c.Host == "a");

        await WriteAsync(writer, 0, 2, 3);
        await writer.CloseAsync().WaitAsync(Generous);

        Assert.Equal(pushesToA, transport.Pushes.Count(c => c.Host == "a"));
        AssertEveryBatchStoredOnce(transport, 0, 5, e => e.Epoch == 5);
        Assert.Single(transport.Revives);
        Assert.Equal(new PartitionRef(0, 4), transport.Revives.Single().Partitions.Single());
    }

    [Fact]
    public async Task Pushes_to_a_silo_found_down_are_not_sent_there_again_but_revived_at_once()
    {
        var transport = new FakePushTransport
        {
            OnPush = call => call.Host == "a" ? FakePushTransport.Fail(GridErrorCode.Timeout) : Task.FromResult(PushReply.None),
        };
        await using var writer = Writer(transport, Options(), At(0, 0, SiloA), At(1, 0, SiloA));

        await WriteAsync(writer, 0, 0, 2);
        await WaitUntilAsync(() => writer.Revives == 1);
        // Partition 1 still routes to A, but A timed out once already: its batches are not sent there.
        await WriteAsync(writer, 1, 0, 3);
        await writer.CloseAsync().WaitAsync(Generous);

        Assert.Single(transport.Pushes, c => c.Host == "a");
        Assert.DoesNotContain(transport.Pushes, c => c.Host == "a" && c.Entries.Any(e => e.PartitionId == 1));
        AssertEveryBatchStoredOnce(transport, 0, 2, e => e.Epoch == 1);
        AssertEveryBatchStoredOnce(transport, 1, 3, e => e.Epoch == 1);
        Assert.All(transport.Revives.SelectMany(r => r.ExcludedSilos), s => Assert.Equal("silo-a@1", s));
        Assert.Equal(2, writer.Revives);
    }

    [Fact]
    public async Task A_lost_connection_is_retried_once_on_the_same_silo_before_reviving()
    {
        int calls = 0;
        var transport = new FakePushTransport
        {
            OnPush = _ => Interlocked.Increment(ref calls) == 1 ? FakePushTransport.Fail(GridErrorCode.ConnectionLost) : Task.FromResult(PushReply.None),
        };
        await using var writer = Writer(transport, Options(), At(0, 0, SiloA));
        await WriteAsync(writer, 0, 0, 1);
        await writer.CloseAsync().WaitAsync(Generous);

        Assert.Equal(2, transport.Pushes.Count);
        Assert.All(transport.Pushes, c => Assert.Equal("a", c.Host));
        Assert.Empty(transport.Revives);
        Assert.Equal(0, writer.Revives);
    }

    [Fact]
    public async Task Pushes_failing_together_are_revived_in_one_request()
    {
        var gate = new TaskCompletionSource();
        int arrived = 0;
        var transport = new FakePushTransport
        {
            OnPush = async call =>
            {
                if (call.Host != "a") return PushReply.None;
                // Hold every push to A until all four are in flight, then fail them together.
                if (Interlocked.Increment(ref arrived) == 4) gate.SetResult();
                await gate.Task;
                throw new GridException(GridErrorCode.StorageFailure, "disk gone");
            },
        };
        var options = Options(o => o.ReviveBatchWindow = TimeSpan.FromMilliseconds(300));
        await using var writer = Writer(transport, options, At(0, 0, SiloA), At(1, 0, SiloA), At(2, 0, SiloA), At(3, 0, SiloA));

        for (int p = 0; p < 4; p++) await WriteAsync(writer, p, 0, 1);
        await writer.CloseAsync().WaitAsync(Generous);

        var revive = Assert.Single(transport.Revives);
        Assert.Equal([0, 1, 2, 3], revive.Partitions.Select(p => p.PartitionId).Order());
        Assert.Equal(["silo-a@1"], revive.ExcludedSilos);
        Assert.Equal(4, writer.Revives);
        for (int p = 0; p < 4; p++) AssertEveryBatchStoredOnce(transport, p, 1, e => e.Epoch == 1);
        // The resends were regrouped by their new silo: batches of several partitions may share a push.
        Assert.All(transport.Stored, c => Assert.Equal("b", c.Host));
    }

    [Fact]
    public async Task A_failed_replication_revives_without_excluding_the_silo()
    {
        int failures = 0;
        var transport = new FakePushTransport
        {
            OnPush = call => call.Host == "a" && Interlocked.Increment(ref failures) == 1
                ? FakePushTransport.Fail(GridErrorCode.ReplicationFailed)
                : Task.FromResult(PushReply.None),
        };
        await using var writer = Writer(transport, Options(), At(0, 0, SiloA));
        await WriteAsync(writer, 0, 0, 1);
        await writer.CloseAsync().WaitAsync(Generous);

        var revive = Assert.Single(transport.Revives);
        Assert.Empty(revive.ExcludedSilos);
        AssertEveryBatchStoredOnce(transport, 0, 1, e => e.Epoch == 1);
    }

    [Fact]
    public async Task A_split_notice_revives_the_partition_for_later_batches_and_resends_nothing()
    {
        int pushes = 0;
        var transport = new FakePushTransport
        {
            // The first push is stored, and its partition epoch has crossed the split threshold.
            OnPush = call => Task.FromResult(Interlocked.Increment(ref pushes) == 1
                ? new PushReply([new PartitionRef(call.Entries[0].PartitionId, call.Entries[0].Epoch)])
                : PushReply.None),
        };
        await using var writer = Writer(transport, Options(), At(0, 0, SiloA), At(1, 0, SiloA));

        await WriteAsync(writer, 0, 0, 2);
        await WaitUntilAsync(() => writer.Revives == 1);
        await WriteAsync(writer, 0, 2, 2);
        await WriteAsync(writer, 1, 0, 2);
        await writer.CloseAsync().WaitAsync(Generous);

        var revive = Assert.Single(transport.Revives);
        Assert.Equal(new PartitionRef(0, 0), Assert.Single(revive.Partitions));
        Assert.Empty(revive.ExcludedSilos);
        Assert.Equal(0, writer.BatchesResent);
        // Batch 0 stayed in epoch 0 on A (it was stored); later batches went to epoch 1 on B.
        AssertEveryBatchStoredOnce(transport, 0, 1, e => e.Epoch == 0 && e.BatchId == 0);
        AssertEveryBatchStoredOnce(transport, 0, 4, e => true);
        Assert.All(transport.StoredEntries.Where(e => e.PartitionId == 0 && e.BatchId > 0), e => Assert.Equal(1, e.Epoch));
        Assert.All(transport.Stored.Where(c => c.Entries.Any(e => e.PartitionId == 0 && e.BatchId > 0)), c => Assert.Equal("b", c.Host));
        // The other partition was not split.
        AssertEveryBatchStoredOnce(transport, 1, 2, e => e.Epoch == 0);
        Assert.Equal(6, writer.BatchesPushed);
    }

    [Fact]
    public async Task MapEnded_stops_the_writer_without_reviving()
    {
        var transport = new FakePushTransport { OnPush = _ => FakePushTransport.Fail(GridErrorCode.MapEnded) };
        await using var writer = Writer(transport, Options(o => o.MaxPushesInFlightPerSilo = 1), At(0, 0, SiloA));

        var error = await Assert.ThrowsAsync<GridException>(async () =>
        {
            await WriteAsync(writer, 0, 0, 50);
            await writer.CloseAsync().WaitAsync(Generous);
        });
        Assert.Equal(GridErrorCode.MapEnded, error.Code);
        Assert.Contains("Map 3 attempt 1", error.Message);

        // One push was refused; nothing after it was sent, revived or ended.
        Assert.Single(transport.Pushes);
        Assert.Empty(transport.Revives);
        Assert.Empty(transport.MapperEnds);
        Assert.Equal(0, transport.PushFailedCalls);
        Assert.Equal(GridErrorCode.MapEnded, Assert.Throws<GridException>(() => writer.TryWrite(0, Record(0, 99))).Code);
    }

    [Fact]
    public async Task A_partition_that_keeps_failing_fails_the_writer_after_MaxRevivesPerPartition()
    {
        var transport = new FakePushTransport
        {
            OnPush = _ => FakePushTransport.Fail(GridErrorCode.SiloUnavailable),
            // A grid whose every new placement fails too.
            OnRevive = r => r.Partitions.Select(p => new PartitionLocation(p.PartitionId, p.Epoch + 1, new SiloEndpoint($"silo-{p.Epoch + 1}", $"silo-{p.Epoch + 1}", "a", 1))).ToArray(),
        };
        await using var writer = Writer(transport, Options(o => o.MaxRevivesPerPartition = 3), At(0, 0, SiloA));

        await WriteAsync(writer, 0, 0, 1);
        var error = await Assert.ThrowsAsync<GridException>(() => writer.CloseAsync().WaitAsync(Generous));
        Assert.Equal(GridErrorCode.SiloUnavailable, error.Code);
        Assert.Contains("MaxRevivesPerPartition", error.Message);
        Assert.Equal(3, transport.Revives.Count);
        Assert.Equal(3, writer.Revives);
        Assert.Equal([0, 1, 2, 3], transport.Pushes.Select(c => c.Entries.Single().Epoch));
        Assert.All(transport.Pushes, c => Assert.Equal(0, c.Entries.Single().BatchId));
        Assert.Empty(transport.MapperEnds);
        Assert.Equal(1, transport.PushFailedCalls);
    }

    [Fact]
    public async Task A_failing_revive_fails_the_writer()
    {
        var transport = new FakePushTransport
        {
            OnPush = call => call.Host == "a" ? FakePushTransport.Fail(GridErrorCode.ShuttingDown) : Task.FromResult(PushReply.None),
            OnRevive = _ => throw new GridException(GridErrorCode.UnknownShuffle, "gone"),
        };
        await using var writer = Writer(transport, Options(), At(0, 0, SiloA));
        await WriteAsync(writer, 0, 0, 1);
        var error = await Assert.ThrowsAsync<GridException>(() => writer.CloseAsync().WaitAsync(Generous));
        Assert.Equal(GridErrorCode.UnknownShuffle, error.Code);
        Assert.Empty(transport.MapperEnds);
    }

    [Fact]
    public async Task A_push_error_that_is_not_a_silo_failure_fails_the_writer_without_reviving()
    {
        var transport = new FakePushTransport { OnPush = _ => FakePushTransport.Fail(GridErrorCode.PartitionCommitted) };
        await using var writer = Writer(transport, Options(), At(0, 0, SiloA));
        await WriteAsync(writer, 0, 0, 1);
        var error = await Assert.ThrowsAsync<GridException>(() => writer.CloseAsync().WaitAsync(Generous));
        Assert.Equal(GridErrorCode.PartitionCommitted, error.Code);
        Assert.Empty(transport.Revives);
    }

    [Fact]
    public async Task Disposing_a_writer_with_resends_waiting_for_a_revive_does_not_hang()
    {
        var transport = new FakePushTransport { OnPush = _ => FakePushTransport.Fail(GridErrorCode.Timeout) };
        var writer = Writer(transport, Options(o => o.ReviveBatchWindow = TimeSpan.FromSeconds(5)), At(0, 0, SiloA));
        await WriteAsync(writer, 0, 0, 3);
        await writer.FlushPendingAsync();
        await WaitUntilAsync(() => transport.Pushes.Count >= 1);
        await writer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Empty(transport.Revives);
    }

    [Fact]
    public async Task Writing_a_record_that_fits_its_partition_buffer_allocates_nothing()
    {
        var transport = new FakePushTransport();
        var options = Options(o => o.PushBufferBytes = 64 * 1024);
        var locations = Enumerable.Range(0, 100).Select(p => At(p, 0, p % 2 == 0 ? SiloA : SiloB)).ToArray();
        await using var writer = Writer(transport, options, locations);
        var record = new byte[40];
        // Every partition has its buffer already: from here on no record seals one.
        for (int p = 0; p < 100; p++) Assert.True(writer.TryWrite(p, record));

        // Once to warm up, once to count: the count must not see the JIT compiling the loop on this thread
        // (an on-stack replacement of a long loop in a method still at tier 0 allocates, on a busy machine).
        Assert.Equal(10_000, WriteAll(writer, record, 10_000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        int written = WriteAll(writer, record, 10_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_000, written);
        await writer.CloseAsync();
        Assert.Equal(20_100, transport.StoredEntries.Sum(e => e.Payload.Length / 44));
    }

    /// <summary>Fully optimized from its first call (no tiering, no on-stack replacement); counts the records taken.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static int WriteAll(ShuffleWriter writer, byte[] record, int count)
    {
        int written = 0;
        for (int i = 0; i < count; i++) written += writer.TryWrite(i % 100, record) ? 1 : 0;
        return written;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true in time.");
            await Task.Delay(5);
        }
    }
}
