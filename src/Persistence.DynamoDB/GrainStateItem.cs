using System.Globalization;
using System.Text;
using Amazon.DynamoDBv2.Model;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Persistence.DynamoDB;

/// <summary>
/// The items of one grain state. The head item is Orleans.Persistence.DynamoDB's record: hash key
/// GrainReference = "{ServiceId}_{GrainId}", range key GrainType = the state name, ETag (N), GrainState
/// (B, or NULL once cleared) and GrainTtl (N, epoch seconds) when expiry is on.
/// <para>
/// Our extension, for a state over one item: the head has no GrainState but StateVersion (S, random),
/// ChunkCount (N), StateSize (N) and StateHash (B, SHA-256), and the bytes are in chunk items of their
/// own, range key "{state name}#chunk#{version}#{index:D6}", each with GrainState (B) and GrainTtl.
/// The official provider reads such a head as a record without state, and never sees the chunks.
/// </para>
/// </summary>
internal static class GrainStateItem
{
    public const string GrainReference = "GrainReference";
    public const string GrainType = "GrainType";
    public const string GrainState = "GrainState";
    public const string ETag = "ETag";
    public const string GrainTtl = "GrainTtl";
    public const string StateVersion = "StateVersion";
    public const string ChunkCount = "ChunkCount";
    public const string StateSize = "StateSize";
    public const string StateHash = "StateHash";

    /// <summary>The attributes of a chunked head, removed by every write that does not chunk.</summary>
    public static readonly string[] ChunkAttributes = [StateVersion, ChunkCount, StateSize, StateHash];

    /// <summary>Separates the state name from the rest of a chunk's range key; state names may not contain it.</summary>
    public const string ChunkMarker = "#chunk#";

    /// <summary>DynamoDB's limits on a partition key and a sort key, in bytes.</summary>
    private const int MaxHashKeyBytes = 2048;
    private const int MaxRangeKeyBytes = 1024;

    /// <summary>What a chunk's range key adds to the state name: the marker, a 32-digit version, '#', six digits.</summary>
    private const int ChunkKeySuffixBytes = 7 + 32 + 1 + 6;

    /// <summary>The partition key of a grain, as Orleans forms it.</summary>
    public static string Reference(string serviceId, GrainId grainId)
    {
        string reference = $"{serviceId}_{grainId}";
        if (Encoding.UTF8.GetByteCount(reference) > MaxHashKeyBytes)
            throw new ArgumentException($"The DynamoDB key of grain {grainId} is over {MaxHashKeyBytes} bytes: use a shorter service id or grain key.", nameof(grainId));
        return reference;
    }

    /// <summary>The state name, which is the head's range key; refused when it could not also prefix a chunk's.</summary>
    public static string CheckStateName(string stateName)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateName);
        if (stateName.Contains(ChunkMarker, StringComparison.Ordinal))
            throw new ArgumentException($"The state name '{stateName}' contains '{ChunkMarker}', which the DynamoDB grain storage keeps for its chunks.", nameof(stateName));
        if (Encoding.UTF8.GetByteCount(stateName) > MaxRangeKeyBytes - ChunkKeySuffixBytes)
            throw new ArgumentException($"The state name '{stateName}' is over {MaxRangeKeyBytes - ChunkKeySuffixBytes} bytes, too long for a DynamoDB key.", nameof(stateName));
        return stateName;
    }

    public static string ChunkKey(string stateName, string version, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{stateName}{ChunkMarker}{version}#{index:D6}");

    public static Dictionary<string, AttributeValue> Key(string reference, string rangeKey) => new()
    {
        [GrainReference] = new() { S = reference },
        [GrainType] = new() { S = rangeKey },
    };

    /// <summary>
    /// What a head item says. GrainState wins over the chunk attributes, so a head the official provider
    /// wrote over one of ours (it sets GrainState and leaves our attributes) reads as the official one wrote it.
    /// </summary>
    public static Head ParseHead(Dictionary<string, AttributeValue> item)
    {
        long etag = DynamoDBValues.GetLong(item, ETag);
        long? expiresAt = DynamoDBValues.TryGetLong(item, GrainTtl);
        if (item.TryGetValue(GrainState, out var state))
        {
            return state.B is { } bytes ? new Head(etag, expiresAt, bytes.ToArray(), null) : new Head(etag, expiresAt, null, null);
        }
        if (!item.TryGetValue(StateVersion, out var version) || version.S is not { Length: > 0 })
            return new Head(etag, expiresAt, null, null);

        int count = checked((int)DynamoDBValues.GetLong(item, ChunkCount));
        long size = DynamoDBValues.GetLong(item, StateSize);
        byte[] hash = item.TryGetValue(StateHash, out var h) && h.B is not null ? h.B.ToArray() : throw new KeyNotFoundException($"attribute {StateHash} is missing");
        if (count < 1 || size < 0 || size > int.MaxValue) throw new FormatException($"{count} chunks of {size} bytes in all");
        return new Head(etag, expiresAt, null, new ChunkedVersion(version.S, count, (int)size, hash));
    }
}

/// <summary>A chunked state's version: where its chunks are and what they must add up to.</summary>
internal sealed record ChunkedVersion(string Version, int ChunkCount, int Size, byte[] Hash);

/// <summary>A head item: its ETag and expiry, and the state inline, or chunked, or neither (cleared).</summary>
internal sealed record Head(long ETag, long? ExpiresAt, byte[]? Inline, ChunkedVersion? Chunks)
{
    public bool HasState => Inline is not null || Chunks is not null;
}
