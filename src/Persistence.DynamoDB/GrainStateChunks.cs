using System.Globalization;
using System.Runtime.InteropServices;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Persistence.DynamoDB;

/// <summary>
/// The chunk items of chunked states: written under a new version before any head names it, read
/// whole or not at all, deleted once no head names their version. Chunks never change after they are written.
/// </summary>
internal sealed class GrainStateChunks(DynamoDBTableClient table)
{
    /// <summary>Keys per BatchGetItem: 32 chunks of 350 KiB stay under its 16 MB response limit (more would come back unprocessed).</summary>
    private const int BatchGetKeys = 32;

    /// <summary>Batch requests of one state in flight at once.</summary>
    private const int Parallelism = 4;

    /// <summary>Writes the chunks of <paramref name="version"/>: <paramref name="data"/> in pieces of <paramref name="chunkSize"/>.</summary>
    public Task PutAsync(string reference, string stateName, ChunkedVersion version, ReadOnlyMemory<byte> data, int chunkSize, long? expiresAt, CancellationToken cancellationToken)
    {
        var array = MemoryMarshal.TryGetArray(data, out var segment) && segment.Array is not null ? segment : new ArraySegment<byte>(data.ToArray());
        var writes = Enumerable.Range(0, version.ChunkCount).Select(index =>
        {
            int offset = index * chunkSize;
            int length = Math.Min(chunkSize, data.Length - offset);
            var item = GrainStateItem.Key(reference, GrainStateItem.ChunkKey(stateName, version.Version, index));
            item[GrainStateItem.GrainState] = new AttributeValue { B = new MemoryStream(array.Array!, array.Offset + offset, length, writable: false, publiclyVisible: true) };
            if (expiresAt is { } at) item[GrainStateItem.GrainTtl] = DynamoDBValues.Number(at);
            return new WriteRequest { PutRequest = new PutRequest { Item = item } };
        });
        return table.WriteBatchesAsync(writes, $"chunks of {stateName} '{reference}'", cancellationToken, Parallelism);
    }

    /// <summary>The chunks of <paramref name="version"/> put together, or null when one is missing or they do not add up (a writer replaced the version meanwhile).</summary>
    public async Task<byte[]?> ReadAsync(string reference, string stateName, ChunkedVersion version, CancellationToken cancellationToken)
    {
        var chunks = new byte[]?[version.ChunkCount];
        var groups = Enumerable.Range(0, version.ChunkCount).Chunk(BatchGetKeys).ToList();
        await Parallel.ForEachAsync(groups, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (group, ct) =>
        {
            var indexByKey = group.ToDictionary(i => GrainStateItem.ChunkKey(stateName, version.Version, i), StringComparer.Ordinal);
            KeysAndAttributes? pending = new() { Keys = indexByKey.Keys.Select(k => GrainStateItem.Key(reference, k)).ToList(), ConsistentRead = true };
            for (int round = 0; pending?.Keys is { Count: > 0 }; round++)
            {
                if (round == DynamoDBBatches.MaxRounds)
                    throw new InvalidOperationException($"DynamoDB left chunks of {stateName} '{reference}' in '{table.TableName}' unread after {DynamoDBBatches.MaxRounds} rounds (throttled); try again.");
                if (round > 0) await Task.Delay(DynamoDBBackoff.Delay(round), ct).ConfigureAwait(false);
                table.Requests.Count("BatchGetItem", write: false);
                var response = await table.Client.BatchGetItemAsync(new BatchGetItemRequest
                {
                    RequestItems = new Dictionary<string, KeysAndAttributes> { [table.TableName] = pending },
                }, ct).ConfigureAwait(false);
                foreach (var item in response.Responses?.GetValueOrDefault(table.TableName) ?? [])
                {
                    if (item.TryGetValue(GrainStateItem.GrainType, out var key) && key.S is not null && indexByKey.TryGetValue(key.S, out int index)
                        && item.TryGetValue(GrainStateItem.GrainState, out var bytes) && bytes.B is not null)
                    {
                        chunks[index] = bytes.B.ToArray();
                    }
                }
                pending = response.UnprocessedKeys?.GetValueOrDefault(table.TableName);
                if (pending is not null) pending.ConsistentRead = true;
            }
        }).ConfigureAwait(false);

        if (chunks.Any(c => c is null) || chunks.Sum(c => (long)c!.Length) != version.Size) return null;
        var result = new byte[version.Size];
        int offset = 0;
        foreach (var chunk in chunks)
        {
            chunk!.CopyTo(result, offset);
            offset += chunk.Length;
        }
        return result;
    }

    /// <summary>Deletes the chunks of <paramref name="version"/>, best effort: what is left no head names, and it expires with the TTL.</summary>
    public async Task TryDeleteAsync(string reference, string stateName, ChunkedVersion version, CancellationToken cancellationToken)
    {
        try
        {
            var keys = Enumerable.Range(0, version.ChunkCount).Select(i => GrainStateItem.Key(reference, GrainStateItem.ChunkKey(stateName, version.Version, i)));
            await table.DeleteBatchesAsync(keys, $"old chunks of {stateName} '{reference}'", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (DynamoDBStartupErrors.IsAwsOrNetworkFailure(e) || e is InvalidOperationException)
        {
            // Unreachable for readers (no head names this version any more); the TTL removes them.
        }
    }

    public static string NewVersion() => Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);
}
