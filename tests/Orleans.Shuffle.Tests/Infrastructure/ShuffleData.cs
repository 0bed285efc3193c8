using System.Text;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Deterministic records of map tasks, and helpers to write and read them through a client.</summary>
public static class ShuffleData
{
    /// <summary>Record <paramref name="index"/> of map <paramref name="map"/>: unique text, of many lengths; every 97th is large.</summary>
    public static string Record(int map, int index)
    {
        var text = new StringBuilder($"m{map}:r{index}:");
        text.Append((char)('a' + index % 26), index * 37 % 300);
        if (index % 97 == 0) text.Append('Z', 9000);
        return text.ToString();
    }

    public static int PartitionOf(int map, int index, int partitions) => (int)((uint)(map * 7919 + index * 104729 + index / 3) % (uint)partitions);

    public static IEnumerable<(int Partition, string Record)> RecordsOfMap(int map, int count, int partitions) =>
        Enumerable.Range(0, count).Select(i => (PartitionOf(map, i, partitions), Record(map, i)));

    /// <summary>The records each partition must hold, sorted, for maps in <paramref name="maps"/>.</summary>
    public static List<string>[] Expected(IEnumerable<int> maps, int recordsPerMap, int partitions)
    {
        var expected = Enumerable.Range(0, partitions).Select(_ => new List<string>()).ToArray();
        foreach (int map in maps)
        {
            foreach (var (partition, record) in RecordsOfMap(map, recordsPerMap, partitions)) expected[partition].Add(record);
        }
        foreach (var list in expected) list.Sort(StringComparer.Ordinal);
        return expected;
    }

    public static async Task WriteMapAsync(ShuffleWriter writer, int map, int count, int partitions)
    {
        foreach (var (partition, record) in RecordsOfMap(map, count, partitions))
        {
            await writer.WriteAsync(partition, Encoding.UTF8.GetBytes(record));
        }
    }

    /// <summary>Reads a partition whole, sorted; the reader is returned for its counters.</summary>
    public static async Task<(List<string> Records, ShuffleReader Reader)> ReadPartitionAsync(
        GridClient client, string appId, int shuffleId, int partition, int startMap = 0, int endMap = int.MaxValue)
    {
        var reader = client.CreateReader(appId, shuffleId, partition, startMap, endMap);
        var records = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var record in reader.ReadRecordsAsync(timeout.Token)) records.Add(Encoding.UTF8.GetString(record.Span));
        records.Sort(StringComparer.Ordinal);
        return (records, reader);
    }

    /// <summary>A whole small shuffle through <paramref name="client"/>: register, two maps, read every partition back exactly.</summary>
    public static async Task RunSmallShuffleAsync(GridClient client, string appId, int shuffleId = 0, int partitions = 4, int recordsPerMap = 300, int replicas = 2)
    {
        await client.RegisterApplicationAsync(appId);
        const int Maps = 2;
        await client.RegisterShuffleAsync(appId, shuffleId, new ShuffleSpec(Maps, partitions, replicas));
        for (int map = 0; map < Maps; map++)
        {
            await using var writer = await client.CreateWriterAsync(appId, shuffleId, map, 0);
            await WriteMapAsync(writer, map, recordsPerMap, partitions);
            var reply = await writer.CloseAsync();
            Assert.True(reply.Won);
            Assert.Equal(map == Maps - 1, reply.AllMapsEnded);
        }
        var expected = Expected(Enumerable.Range(0, Maps), recordsPerMap, partitions);
        for (int p = 0; p < partitions; p++)
        {
            var (records, _) = await ReadPartitionAsync(client, appId, shuffleId, p);
            Assert.Equal(expected[p], records);
        }
    }

    /// <summary>Every location's primary, as its data endpoint host:port.</summary>
    public static IEnumerable<string> Endpoints(IEnumerable<PartitionLocation> locations) => locations.Select(l => l.Primary.Endpoint);
}
