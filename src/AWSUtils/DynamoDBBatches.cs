using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// The multi-item requests every provider makes, with DynamoDB's limits and bounded retries of what
/// it leaves unprocessed: BatchWriteItem in groups of 25, and a Query read to its last page.
/// </summary>
public static class DynamoDBBatches
{
    /// <summary>BatchWriteItem's limit of requests per call.</summary>
    public const int WriteLimit = 25;

    /// <summary>Rounds of BatchWriteItem/BatchGetItem for the items DynamoDB left unprocessed (throttled).</summary>
    public const int MaxRounds = 8;

    /// <summary>Pages of one query before it is given up as endless.</summary>
    public const int MaxPages = 100_000;

    /// <summary>
    /// Writes <paramref name="requests"/> to <paramref name="tableName"/> in batches of 25, at most
    /// <paramref name="parallelism"/> in flight, retrying unprocessed items with backoff.
    /// <paramref name="what"/> names the items for the error when DynamoDB keeps refusing them.
    /// </summary>
    public static async Task WriteAsync(
        IAmazonDynamoDB client, string tableName, IEnumerable<WriteRequest> requests, DynamoDBRequestCounts counts,
        string what, CancellationToken cancellationToken, int parallelism = 4)
    {
        var batches = requests.Chunk(WriteLimit).ToList();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (batch, ct) =>
        {
            var pending = new Dictionary<string, List<WriteRequest>> { [tableName] = batch.ToList() };
            for (int round = 0; pending.Count > 0; round++)
            {
                if (round == MaxRounds)
                    throw new InvalidOperationException($"DynamoDB left {what} in '{tableName}' unwritten after {MaxRounds} rounds (throttled); try again.");
                if (round > 0) await Task.Delay(DynamoDBBackoff.Delay(round), ct).ConfigureAwait(false);
                counts.Count("BatchWriteItem", write: true);
                var response = await client.BatchWriteItemAsync(new BatchWriteItemRequest { RequestItems = pending }, ct).ConfigureAwait(false);
                pending = response.UnprocessedItems?.Where(p => p.Value is { Count: > 0 }).ToDictionary() ?? [];
            }
        }).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="request"/> page after page, handing every item to <paramref name="onItem"/>.</summary>
    public static async Task QueryAllAsync(
        IAmazonDynamoDB client, QueryRequest request, DynamoDBRequestCounts counts, Action<Dictionary<string, AttributeValue>> onItem, CancellationToken cancellationToken)
    {
        request.ExclusiveStartKey = null;
        for (int page = 0; page < MaxPages; page++)
        {
            counts.Count("Query", write: false);
            var response = await client.QueryAsync(request, cancellationToken).ConfigureAwait(false);
            foreach (var item in response.Items ?? []) onItem(item);
            if (response.LastEvaluatedKey is not { Count: > 0 }) return;
            request.ExclusiveStartKey = response.LastEvaluatedKey;
        }
        throw new InvalidOperationException($"A query of '{request.TableName}' did not end after {MaxPages} pages.");
    }
}
