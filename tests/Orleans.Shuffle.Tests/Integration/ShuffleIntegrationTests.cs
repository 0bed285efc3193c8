using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

[Collection(SiloCollection.Name)]
public class ShuffleIntegrationTests
{
    private static readonly string[] SmallStorage =
    [
        "--Storage:FlushBufferBytes=16384",
        "--Storage:ChunkBytes=65536",
    ];

    private static void SmallPushes(GridClientOptions options)
    {
        options.PushBufferBytes = 2048;      // the 9000-byte records take the oversized path
        options.MergedPushBytes = 8192;
        options.MaxPushesInFlightPerSilo = 4;
    }

    /// <summary>
    /// Four maps, six partitions, three silos. Map 1 runs twice (a speculative attempt that ends
    /// second), map 2 is written twice by the same attempt, and map 3 is pushed by hand with every
    /// PushData sent twice. Every partition must read back exactly the records of the winning
    /// attempts, each once.
    /// </summary>
    [Fact]
    public async Task Every_record_is_read_exactly_once_despite_speculative_attempts_and_duplicate_pushes()
    {
        const int Maps = 4, Partitions = 6, Records = 1500, ShuffleId = 0;
        const string App = "app-exactly-once";
        await using var cluster = await InProcessCluster.StartAsync(3, slotsPerSilo: 20, SmallStorage);
        var client = await cluster.ConnectClientAsync(SmallPushes);

        await client.RegisterApplicationAsync(App);
        var locations = await client.RegisterShuffleAsync(App, ShuffleId, Maps, Partitions);
        Assert.Equal(Enumerable.Range(0, Partitions), locations.Select(l => l.PartitionId));
        Assert.Equal(3, ShuffleData.Endpoints(locations).Distinct().Count()); // 2/2/2 over three equal silos

        // Map 0: plain.
        await using (var writer = await client.CreateWriterAsync(App, ShuffleId, Maps, Partitions, 0, 0))
        {
            await ShuffleData.WriteMapAsync(writer, 0, Records, Partitions);
            var reply = await writer.CloseAsync();
            Assert.Equal(new MapperEndReply(true, 0, false), reply);
        }

        // Map 1: attempts 0 and 1 write the same records; attempt 0 ends first and wins.
        long losingBatches;
        await using (var first = await client.CreateWriterAsync(App, ShuffleId, Maps, Partitions, 1, 0))
        await using (var speculative = await client.CreateWriterAsync(App, ShuffleId, Maps, Partitions, 1, 1))
        {
            foreach (var (partition, record) in ShuffleData.RecordsOfMap(1, Records, Partitions))
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(record);
                await first.WriteAsync(partition, bytes);
                await speculative.WriteAsync(partition, bytes);
            }
            Assert.Equal(new MapperEndReply(true, 0, false), await first.CloseAsync());
            Assert.Equal(new MapperEndReply(false, 0, false), await speculative.CloseAsync());
            losingBatches = speculative.BatchesPushed;
            Assert.True(losingBatches > Partitions, $"the speculative attempt pushed only {losingBatches} batches");
        }

        // Map 2: one attempt, its output written twice (a retried task with the same attempt id).
        long duplicateBatches;
        await using (var once = await client.CreateWriterAsync(App, ShuffleId, Maps, Partitions, 2, 0))
        await using (var again = await client.CreateWriterAsync(App, ShuffleId, Maps, Partitions, 2, 0))
        {
            await ShuffleData.WriteMapAsync(once, 2, Records, Partitions);
            await ShuffleData.WriteMapAsync(again, 2, Records, Partitions);
            Assert.Equal(new MapperEndReply(true, 0, false), await once.CloseAsync());
            Assert.Equal(new MapperEndReply(true, 0, false), await again.CloseAsync());
            Assert.Equal(once.BatchesPushed, again.BatchesPushed);
            duplicateBatches = again.BatchesPushed;
        }

        // Map 3: pushed by hand, one batch per partition per 100 records, each PushData sent twice.
        var connectionOptions = new GridConnectionOptions { PeerName = "raw-map-3" };
        var bySilo = locations.GroupBy(l => (l.Host, l.Port)).ToList();
        int rawBatches = 0;
        foreach (var silo in bySilo)
        {
            await using var connection = await GridConnection.ConnectAsync(silo.Key.Host, silo.Key.Port, connectionOptions);
            var entries = new List<(int Partition, byte[] Batch)>();
            foreach (var location in silo)
            {
                var records = ShuffleData.RecordsOfMap(3, Records, Partitions).Where(r => r.Partition == location.PartitionId).Select(r => r.Record).ToList();
                int batchId = 0;
                foreach (var chunk in records.Chunk(100))
                {
                    entries.Add((location.PartitionId, TestBatches.Make(3, 0, batchId++, TestBatches.FrameRecords(chunk))));
                }
            }
            rawBatches += entries.Count;
            foreach (var push in entries.Chunk(4))
            {
                var body = PushBody(App, ShuffleId, push);
                for (int copy = 0; copy < 2; copy++)
                {
                    using var reply = await connection.SendAsync(MessageType.PushData, new RawBody(body));
                    Assert.Empty(reply.Read<PushReply>().Splits);
                }
            }
        }
        await using (var control = await GridConnection.ConnectAsync(cluster.Silos[0].Host, cluster.Silos[0].Port, connectionOptions))
        {
            using var reply = await control.SendAsync(MessageType.MapperEnd, new MapperEnd(App, ShuffleId, 3, 0));
            Assert.Equal(new MapperEndReply(true, 0, true), reply.Read<MapperEndReply>());
        }

        var group = await client.GetReducerFileGroupAsync(App, ShuffleId);
        Assert.Equal([0, 0, 0, 0], group.WinningAttempts);
        Assert.Equal(Partitions, group.Locations.Count);

        var expected = ShuffleData.Expected(Enumerable.Range(0, Maps), Records, Partitions);
        long duplicatesSkipped = 0, losersSkipped = 0;
        for (int p = 0; p < Partitions; p++)
        {
            var (records, reader) = await ShuffleData.ReadPartitionAsync(client, App, ShuffleId, p);
            Assert.Equal(expected[p].Count, records.Count);
            Assert.Equal(expected[p], records);
            duplicatesSkipped += reader.DuplicateBatchesSkipped;
            losersSkipped += reader.LosingAttemptBatchesSkipped;
        }
        // The duplicates and the losing attempt really were stored, and really were dropped.
        Assert.Equal(losingBatches, losersSkipped);
        Assert.Equal(duplicateBatches + rawBatches, duplicatesSkipped);

        // A map-range read gets maps 1 and 2 only, still exactly once.
        var middle = ShuffleData.Expected([1, 2], Records, Partitions);
        for (int p = 0; p < Partitions; p++)
        {
            var (records, _) = await ShuffleData.ReadPartitionAsync(client, App, ShuffleId, p, startMap: 1, endMap: 3);
            Assert.Equal(middle[p], records);
        }
    }

    private static byte[] PushBody(string app, int shuffleId, IReadOnlyList<(int Partition, byte[] Batch)> entries)
    {
        using var output = new PooledBufferWriter(1024);
        var writer = new WireWriter(output);
        PushData.WriteHeader(writer, app, shuffleId, entries.Count);
        foreach (var (partition, batch) in entries)
        {
            writer.WriteInt32(partition);
            writer.WriteInt32(0);
            writer.WriteInt32(batch.Length);
            writer.WriteRaw(batch);
        }
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public async Task Unregistering_a_shuffle_deletes_its_files_and_frees_its_slots()
    {
        const int Maps = 2, Partitions = 12, Slots = 10;
        const string App = "app-unregister";
        await using var cluster = await InProcessCluster.StartAsync(3, slotsPerSilo: Slots, SmallStorage);
        // Unreplicated, so one partition takes one slot and the arithmetic below stays plain.
        var client = await cluster.ConnectClientAsync(o =>
        {
            SmallPushes(o);
            o.Replicas = 1;
        });

        await ShuffleData.RunSmallShuffleAsync(client, App, shuffleId: 0, partitions: Partitions);
        Assert.Equal(3 * Slots - Partitions, cluster.Silos.Sum(s => s.Partitions.FreeSlots));
        Assert.Equal(Partitions, cluster.Silos.Sum(s => s.DataFiles().Count));
        Assert.Equal(Partitions, await PartitionCountFromStateAsync(cluster));

        await client.UnregisterShuffleAsync(App, 0);

        // Deleted before the reply: no waiting needed.
        foreach (var silo in cluster.Silos)
        {
            Assert.Equal(Slots, silo.Partitions.FreeSlots);
            Assert.Equal(0, silo.Partitions.Count);
            Assert.Empty(silo.DataFiles());
        }
        Assert.Equal(0, await PartitionCountFromStateAsync(cluster));
        var e = await Assert.ThrowsAsync<GridException>(() => client.GetReducerFileGroupAsync(App, 0));
        Assert.Equal(ErrorCode.UnknownShuffle, e.Code);

        // The freed slots can be used again: a shuffle needing more than half of them fits.
        var again = await client.RegisterShuffleAsync(App, 1, Maps, 3 * Slots);
        Assert.Equal(3 * Slots, again.Count);
        Assert.Equal(0, cluster.Silos.Sum(s => s.Partitions.FreeSlots));
        await client.UnregisterApplicationAsync(App);
        Assert.Equal(3 * Slots, cluster.Silos.Sum(s => s.Partitions.FreeSlots));
    }

    /// <summary>The partition counts the silos' /state pages report, summed.</summary>
    private static async Task<int> PartitionCountFromStateAsync(InProcessCluster cluster)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        int total = 0;
        foreach (var silo in cluster.Running)
        {
            var state = await http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{silo.HttpPort}/state");
            total += state.GetProperty("partitionCount").GetInt32();
        }
        return total;
    }

    [Fact]
    public async Task A_shuffle_larger_than_the_free_slots_is_refused_and_takes_nothing()
    {
        await using var cluster = await InProcessCluster.StartAsync(2, slotsPerSilo: 4);
        var client = await cluster.ConnectClientAsync(o => o.Replicas = 1);
        await client.RegisterApplicationAsync("app-big");
        var e = await Assert.ThrowsAsync<GridException>(() => client.RegisterShuffleAsync("app-big", 0, 1, 9));
        Assert.Equal(ErrorCode.NoSlots, e.Code);
        Assert.All(cluster.Silos, s => Assert.Equal(4, s.Partitions.FreeSlots));
        Assert.Equal(8, (await client.RegisterShuffleAsync("app-big", 0, 1, 8)).Count);
    }

    [Fact]
    public async Task Registering_a_shuffle_again_with_another_shape_is_ShuffleMismatch()
    {
        await using var cluster = await InProcessCluster.StartAsync(2, slotsPerSilo: 16);
        var client = await cluster.ConnectClientAsync(o => o.Replicas = 1);
        await client.RegisterApplicationAsync("app-shape");
        var first = await client.RegisterShuffleAsync("app-shape", 0, 2, 4);
        Assert.Equal(first, await client.RegisterShuffleAsync("app-shape", 0, 2, 4));
        var e = await Assert.ThrowsAsync<GridException>(() => client.RegisterShuffleAsync("app-shape", 0, 3, 4));
        Assert.Equal(ErrorCode.ShuffleMismatch, e.Code);
        Assert.Equal(32 - 4, cluster.Silos.Sum(s => s.Partitions.FreeSlots));
    }

    /// <summary>
    /// Applications registered before a silo joins must keep working after it joins: the ShuffleGrain
    /// that holds their shuffles' state must stay reachable.
    /// </summary>
    [Fact]
    public async Task A_silo_joining_does_not_orphan_running_applications()
    {
        const int Apps = 16; // each keeps its silo with odds of about 1/3: some are sure to move
        await using var cluster = await InProcessCluster.StartAsync(2, slotsPerSilo: 64);
        var client = await cluster.ConnectClientAsync();
        var writers = new List<ShuffleWriter>();
        for (int a = 0; a < Apps; a++)
        {
            string app = $"app-join-{a}";
            await client.RegisterApplicationAsync(app);
            var writer = await client.CreateWriterAsync(app, 0, 1, 2, 0, 0);
            await ShuffleData.WriteMapAsync(writer, 0, 50, 2);
            writers.Add(writer);
        }

        await cluster.AddSiloAsync();
        await cluster.WaitForConvergenceAsync();
        await client.RefreshClusterViewAsync();

        var failures = new List<string>();
        for (int a = 0; a < Apps; a++)
        {
            try
            {
                var reply = await writers[a].CloseAsync();
                Assert.True(reply.Won && reply.AllMapsEnded);
                var (records, _) = await ShuffleData.ReadPartitionAsync(client, $"app-join-{a}", 0, 0);
                Assert.Equal(ShuffleData.Expected([0], 50, 2)[0], records);
            }
            catch (GridException e)
            {
                failures.Add($"app-join-{a}: {e.Code}: {e.Message}");
            }
            finally
            {
                await writers[a].DisposeAsync();
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {Apps} applications broke when a silo joined:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
    }
}
