using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>Whole shuffles through the real client, real silos, real data endpoints and real files.</summary>
[Collection(SiloCollection.Name)]
public class ShuffleIntegrationTests
{
    private static readonly Dictionary<string, string?> SmallStorage = new()
    {
        ["Storage:FlushBufferBytes"] = "16384",
        ["Storage:ChunkBytes"] = "65536",
    };

    private static GridClientOptions SmallPushes() => new()
    {
        PushBufferBytes = 2048,      // the 9000-byte records take the oversized path
        MergedPushBytes = 8192,
        MaxPushesInFlightPerSilo = 4,
    };

    /// <summary>
    /// Four maps, six partitions, three silos. Map 1 runs twice (a speculative attempt that ends
    /// second), map 2 is written twice by the same attempt, and map 3 is pushed by hand over the data
    /// plane with every PushData sent twice. Every partition must read back exactly the records of
    /// the winning attempts, each once.
    /// </summary>
    [Fact]
    public async Task Every_record_is_read_exactly_once_despite_speculative_attempts_and_duplicate_pushes()
    {
        const int Maps = 4, Partitions = 6, Records = 1500, ShuffleId = 0;
        const string App = "app-exactly-once";
        await using var grid = await TestGrid.StartAsync(3, slotsPerSilo: 20, settings: SmallStorage);
        var client = grid.NewClient(SmallPushes());

        var secret = await client.RegisterApplicationAsync(App);
        grid.Secrets.Trust(App); // the test ends map 3 by a direct grain call
        var locations = (await client.RegisterShuffleAsync(App, ShuffleId, new ShuffleSpec(Maps, Partitions))).Locations;
        Assert.Equal(Enumerable.Range(0, Partitions), locations.Select(l => l.PartitionId));
        Assert.Equal(3, ShuffleData.Endpoints(locations).Distinct().Count()); // 2/2/2 primaries over three equal silos

        // Map 0: plain.
        await using (var writer = await client.CreateWriterAsync(App, ShuffleId, 0, 0))
        {
            await ShuffleData.WriteMapAsync(writer, 0, Records, Partitions);
            Assert.Equal(new MapperEndReply(true, 0, false), await writer.CloseAsync());
        }

        // Map 1: attempts 0 and 1 write the same records; attempt 0 ends first and wins.
        long losingBatches;
        await using (var first = await client.CreateWriterAsync(App, ShuffleId, 1, 0))
        await using (var speculative = await client.CreateWriterAsync(App, ShuffleId, 1, 1))
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
        await using (var once = await client.CreateWriterAsync(App, ShuffleId, 2, 0))
        await using (var again = await client.CreateWriterAsync(App, ShuffleId, 2, 0))
        {
            await ShuffleData.WriteMapAsync(once, 2, Records, Partitions);
            await ShuffleData.WriteMapAsync(again, 2, Records, Partitions);
            Assert.Equal(new MapperEndReply(true, 0, false), await once.CloseAsync());
            Assert.Equal(new MapperEndReply(true, 0, false), await again.CloseAsync());
            Assert.Equal(once.BatchesPushed, again.BatchesPushed);
            duplicateBatches = again.BatchesPushed;
        }

        // Map 3: pushed by hand to each primary's data endpoint, one batch per 100 records, each PushData twice.
        var connectionOptions = new GridConnectionOptions { PeerName = "raw-map-3", Credential = Orleans.Shuffle.Security.DataPlaneCredential.ForApplication(App, secret) };
        int rawBatches = 0;
        foreach (var silo in locations.GroupBy(l => l.Primary.Endpoint))
        {
            var primary = silo.First().Primary;
            await using var connection = await GridConnection.ConnectAsync(primary.Host, primary.Port, connectionOptions);
            var entries = new List<(int Partition, byte[] Batch)>();
            foreach (var location in silo)
            {
                var records = ShuffleData.RecordsOfMap(3, Records, Partitions).Where(r => r.Partition == location.PartitionId).Select(r => r.Record).ToList();
                int batchId = 0;
                foreach (var chunk in records.Chunk(100)) entries.Add((location.PartitionId, TestBatches.Make(3, 0, batchId++, TestBatches.FrameRecords(chunk))));
            }
            rawBatches += entries.Count;
            foreach (var push in entries.Chunk(4))
            {
                for (int copy = 0; copy < 2; copy++)
                {
                    using var reply = await connection.SendAsync(MessageType.PushData, new RawPushBody(App, ShuffleId, push));
                    Assert.Empty(reply.Read<PushReply>().Splits);
                }
            }
        }
        Assert.Equal(new MapperEndReply(true, 0, true), await grid.Cluster.Client.GetGrain<IShuffleGrain>(App).MapperEnd(ShuffleId, 3, 0));

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

    [Fact]
    public async Task Unregistering_a_shuffle_deletes_its_files_and_frees_its_slots()
    {
        const int Partitions = 12, Slots = 10;
        const string App = "app-unregister";
        // One application takes every slot below: no quota (Applications:MaxSlotShare 1).
        await using var grid = await TestGrid.StartAsync(3, slotsPerSilo: Slots, settings: new Dictionary<string, string?>(SmallStorage) { ["Applications:MaxSlotShare"] = "1" });
        var client = grid.NewClient(SmallPushes());

        // Unreplicated, so one partition takes one slot and the arithmetic below stays plain.
        await ShuffleData.RunSmallShuffleAsync(client, App, shuffleId: 0, partitions: Partitions, replicas: 1);
        Assert.Equal(3 * Slots - Partitions, grid.Silos.Sum(s => grid.CatalogOf(s).FreeSlots));
        Assert.Equal(Partitions, grid.Silos.Sum(s => grid.DataFilesOf(s).Count));

        await client.UnregisterShuffleAsync(App, 0);

        // Deleted before the reply: no waiting needed.
        foreach (var silo in grid.Silos)
        {
            Assert.Equal(Slots, grid.CatalogOf(silo).FreeSlots);
            Assert.Equal(0, grid.CatalogOf(silo).Count);
            Assert.Empty(grid.DataFilesOf(silo));
        }
        var e = await Assert.ThrowsAsync<GridException>(() => client.GetReducerFileGroupAsync(App, 0));
        Assert.Equal(GridErrorCode.UnknownShuffle, e.Code);

        // The freed slots can be used again: a shuffle needing every one of them fits.
        var again = await client.RegisterShuffleAsync(App, 1, new ShuffleSpec(2, 3 * Slots, Replicas: 1));
        Assert.Equal(3 * Slots, again.Locations.Count);
        Assert.Equal(0, grid.Silos.Sum(s => grid.CatalogOf(s).FreeSlots));
        await client.UnregisterApplicationAsync(App);
        Assert.Equal(3 * Slots, grid.Silos.Sum(s => grid.CatalogOf(s).FreeSlots));
    }

    /// <summary>Applications registered before a silo joins keep working after it joins: no ShuffleGrain or copy moves.</summary>
    [Fact]
    public async Task A_silo_joining_does_not_orphan_running_applications()
    {
        const int Apps = 8;
        await using var grid = await TestGrid.StartAsync(2);
        var client = grid.Client;
        var writers = new List<ShuffleWriter>();
        for (int a = 0; a < Apps; a++)
        {
            string app = $"app-join-{a}";
            await client.RegisterApplicationAsync(app);
            await client.RegisterShuffleAsync(app, 0, new ShuffleSpec(1, 2));
            var writer = await client.CreateWriterAsync(app, 0, 0, 0);
            await ShuffleData.WriteMapAsync(writer, 0, 50, 2);
            writers.Add(writer);
        }

        await grid.Cluster.StartAdditionalSiloAsync();
        await grid.Cluster.WaitForLivenessToStabilizeAsync();

        for (int a = 0; a < Apps; a++)
        {
            await using var writer = writers[a];
            var reply = await writer.CloseAsync();
            Assert.True(reply.Won && reply.AllMapsEnded);
            var (records, _) = await ShuffleData.ReadPartitionAsync(client, $"app-join-{a}", 0, 0);
            Assert.Equal(ShuffleData.Expected([0], 50, 2)[0], records);
        }
    }

    [Fact]
    public async Task A_partition_nobody_wrote_to_reads_as_empty_and_empty_records_are_records()
    {
        await using var grid = await TestGrid.StartAsync(2, slotsPerSilo: 8);
        var client = grid.Client;
        await client.RegisterApplicationAsync("app-empty");
        await client.RegisterShuffleAsync("app-empty", 0, new ShuffleSpec(1, 3));
        await using (var writer = await client.CreateWriterAsync("app-empty", 0, 0, 0))
        {
            for (int i = 0; i < 100; i++) await writer.WriteAsync(0, System.Text.Encoding.UTF8.GetBytes($"only-{i}"));
            Assert.True((await writer.CloseAsync()).AllMapsEnded);
        }
        var (first, _) = await ShuffleData.ReadPartitionAsync(client, "app-empty", 0, 0);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"only-{i}").Order(StringComparer.Ordinal), first);
        Assert.Empty((await ShuffleData.ReadPartitionAsync(client, "app-empty", 0, 1)).Records);
        Assert.Empty((await ShuffleData.ReadPartitionAsync(client, "app-empty", 0, 2)).Records);

        await client.RegisterShuffleAsync("app-empty", 1, new ShuffleSpec(1, 1));
        await using (var writer = await client.CreateWriterAsync("app-empty", 1, 0, 0))
        {
            for (int i = 0; i < 3; i++) await writer.WriteAsync(0, ReadOnlyMemory<byte>.Empty);
            await writer.CloseAsync();
        }
        Assert.Equal(["", "", ""], (await ShuffleData.ReadPartitionAsync(client, "app-empty", 1, 0)).Records);
    }

    /// <summary>
    /// Three maps pushed by three clients with three codecs into the same partitions, replicated:
    /// the silos store each batch as pushed, and one reader decodes every codec it meets.
    /// </summary>
    [Fact]
    public async Task Maps_written_with_different_codecs_read_back_as_one_shuffle()
    {
        const string App = "app-codecs";
        const int Partitions = 4, RecordsPerMap = 400;
        await using var grid = await TestGrid.StartAsync(2, slotsPerSilo: 16, settings: SmallStorage);
        await grid.Client.RegisterApplicationAsync(App);
        BatchCodec[] codecs = [BatchCodec.None, BatchCodec.Lz4, BatchCodec.Zstd];
        await grid.Client.RegisterShuffleAsync(App, 0, new ShuffleSpec(codecs.Length, Partitions, Replicas: 2));
        for (int map = 0; map < codecs.Length; map++)
        {
            var options = SmallPushes();
            options.Compression = codecs[map];
            await using var writer = await grid.NewClient(options).CreateWriterAsync(App, 0, map, 0);
            await ShuffleData.WriteMapAsync(writer, map, RecordsPerMap, Partitions);
            await writer.CloseAsync();
            // The records are text with long runs: both codecs must shrink them, None must not touch them.
            if (codecs[map] == BatchCodec.None) Assert.Equal(writer.PayloadBytes, writer.StoredPayloadBytes);
            else Assert.True(writer.StoredPayloadBytes * 2 < writer.PayloadBytes, $"{codecs[map]}: {writer.PayloadBytes} -> {writer.StoredPayloadBytes}");
        }

        var expected = ShuffleData.Expected(Enumerable.Range(0, codecs.Length), RecordsPerMap, Partitions);
        for (int p = 0; p < Partitions; p++)
        {
            var (records, reader) = await ShuffleData.ReadPartitionAsync(grid.Client, App, 0, p);
            Assert.Equal(expected[p], records);
            Assert.Equal(0, reader.Failovers);
        }
    }

    /// <summary>A PushData body assembled from ready batches, the way another language's client would send it.</summary>
    private readonly struct RawPushBody(string appId, int shuffleId, IReadOnlyList<(int Partition, byte[] Batch)> entries) : IWireMessage<RawPushBody>
    {
        public void Write(WireWriter writer)
        {
            PushData.WriteHeader(writer, appId, shuffleId, entries.Count);
            foreach (var (partition, batch) in entries)
            {
                writer.WriteInt32(partition);
                writer.WriteInt32(0);
                writer.WriteInt32(batch.Length);
                writer.WriteRaw(batch);
            }
        }

        public static RawPushBody Read(ref WireReader reader) => throw new NotSupportedException("Only sent.");
    }
}
