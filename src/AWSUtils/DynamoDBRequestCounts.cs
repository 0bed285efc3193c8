using System.Collections.Concurrent;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// Requests one provider sent, by DynamoDB operation: each SDK call is counted once, whatever the SDK
/// retried. For measuring a provider's load on DynamoDB (and so its cost).
/// </summary>
public sealed class DynamoDBRequestCounts
{
    private readonly ConcurrentDictionary<string, long> _byOperation = new(StringComparer.Ordinal);
    private long _reads;
    private long _writes;

    public long Reads => Interlocked.Read(ref _reads);

    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>A snapshot, by operation name ("GetItem", "Query", ...).</summary>
    public IReadOnlyDictionary<string, long> ByOperation => new SortedDictionary<string, long>(_byOperation, StringComparer.Ordinal);

    /// <summary>How many <paramref name="operation"/> requests were sent.</summary>
    public long Of(string operation) => _byOperation.GetValueOrDefault(operation);

    public void Count(string operation, bool write)
    {
        _byOperation.AddOrUpdate(operation, 1, (_, n) => n + 1);
        if (write) Interlocked.Increment(ref _writes);
        else Interlocked.Increment(ref _reads);
    }

    public override string ToString() =>
        $"reads={Reads} writes={Writes} ({string.Join(", ", ByOperation.Select(p => $"{p.Key}={p.Value}"))})";
}
