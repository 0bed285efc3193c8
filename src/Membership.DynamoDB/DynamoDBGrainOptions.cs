using System.Text.RegularExpressions;

namespace Orleans.Shuffle.Membership.DynamoDB;

/// <summary>
/// Settings of the DynamoDB grain storage (ShuffleGrain state), after Orleans' DynamoDBStorageOptions.
/// In a silo they are the section "Membership:DynamoDB:GrainStorage"; the endpoint, credentials, table
/// creation and timeouts are the parent <see cref="DynamoDBClusteringOptions"/>'s.
/// </summary>
public sealed partial class DynamoDBGrainStorageOptions
{
    /// <summary>The table name used when none is configured.</summary>
    public const string DefaultTableName = "OrleansShuffleGrainState";

    /// <summary>The default <see cref="ChunkSize"/>: 350 KiB, under DynamoDB's 400 KB item limit with room for keys and attributes.</summary>
    public const int DefaultChunkSize = 350 * 1024;

    /// <summary>The largest <see cref="ChunkSize"/> accepted: what still fits an item with its keys.</summary>
    public const int MaxChunkSize = 390 * 1024;

    /// <summary>The default <see cref="MaxStateSize"/>: 64 MiB.</summary>
    public const int DefaultMaxStateSize = 64 * 1024 * 1024;

    /// <summary>The default name of the TTL attribute.</summary>
    public const string DefaultTimeToLiveAttribute = "ExpiresAt";

    /// <summary>Name of the table. Default "OrleansShuffleGrainState". Clusters can share it: the hash key starts with the cluster id.</summary>
    public string TableName { get; set; } = DefaultTableName;

    /// <summary>
    /// A state larger than this is split into items of this many bytes (DynamoDB refuses items over
    /// 400 KB; Orleans' provider fails such states). Default 350 KiB; at most 390 KiB.
    /// </summary>
    public int ChunkSize { get; set; } = DefaultChunkSize;

    /// <summary>A write of a larger state is refused with an ArgumentException. Default 64 MiB.</summary>
    public int MaxStateSize { get; set; } = DefaultMaxStateSize;

    /// <summary>
    /// Each write sets the items' TTL attribute to now + this, so the state of an application that
    /// was abandoned (its grid gone, never unregistered) expires. Default 30 days; TimeSpan.Zero
    /// turns expiry off. Keep it far above the longest time a live application goes without a
    /// change of its ShuffleGrain state.
    /// </summary>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromDays(30);

    /// <summary>The numeric attribute (epoch seconds) the table's TTL reads; turned on when the table is created. Default "ExpiresAt".</summary>
    public string TimeToLiveAttribute { get; set; } = DefaultTimeToLiveAttribute;

    /// <summary>
    /// ClearStateAsync deletes the head item instead of leaving a tombstone (no state, next ETag),
    /// as Orleans' option of that name. Default false: a tombstone keeps ETags rising across a clear,
    /// so an activation that read the state before the clear can never write over a state written
    /// after it; the tombstone expires with <see cref="TimeToLive"/>.
    /// </summary>
    public bool DeleteStateOnClear { get; set; }

    /// <summary>The TTL attribute written, or null when expiry is off.</summary>
    internal string? EffectiveTimeToLiveAttribute => TimeToLive > TimeSpan.Zero ? TimeToLiveAttribute : null;

    /// <summary>Every problem of these settings, each a sentence naming the setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section = "DynamoDB:GrainStorage")
    {
        if (!DynamoDBNames.IsTableName(TableName))
            yield return $"{section}:TableName '{TableName}' is not a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, '_', '-', '.').";
        if (ChunkSize is < 1024 or > MaxChunkSize)
            yield return $"{section}:ChunkSize {ChunkSize} must be between 1024 and {MaxChunkSize} bytes (DynamoDB items are at most 400 KB).";
        if (MaxStateSize < 1)
            yield return $"{section}:MaxStateSize must be positive.";
        if (TimeToLive < TimeSpan.Zero)
            yield return $"{section}:TimeToLive must be positive, or 00:00:00 to turn expiry off.";
        if (TimeToLive > TimeSpan.Zero && !AttributeName().IsMatch(TimeToLiveAttribute ?? ""))
            yield return $"{section}:TimeToLiveAttribute '{TimeToLiveAttribute}' is not an attribute name (1 to 255 of a-z, A-Z, 0-9, '_', '-', '.').";
        if (TimeToLive > TimeSpan.Zero && DynamoDBGrainStorage.ReservedAttributes.Contains(TimeToLiveAttribute ?? ""))
            yield return $"{section}:TimeToLiveAttribute '{TimeToLiveAttribute}' is an attribute the grain storage uses for something else.";
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,255}$")]
    private static partial Regex AttributeName();
}

/// <summary>
/// Settings of the DynamoDB grain directory. In a silo they are the section
/// "Membership:DynamoDB:GrainDirectory"; the rest is the parent <see cref="DynamoDBClusteringOptions"/>'s.
/// </summary>
public sealed class DynamoDBGrainDirectoryOptions
{
    /// <summary>The table name used when none is configured.</summary>
    public const string DefaultTableName = "OrleansShuffleGrainDirectory";

    /// <summary>Name of the table. Default "OrleansShuffleGrainDirectory". Each cluster id is one hash key in it.</summary>
    public string TableName { get; set; } = DefaultTableName;

    /// <summary>Every problem of these settings, each a sentence naming the setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section = "DynamoDB:GrainDirectory")
    {
        if (!DynamoDBNames.IsTableName(TableName))
            yield return $"{section}:TableName '{TableName}' is not a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, '_', '-', '.').";
    }
}

internal static partial class DynamoDBNames
{
    public static bool IsTableName(string? name) => !string.IsNullOrEmpty(name) && TableNamePattern().IsMatch(name);

    [GeneratedRegex("^[A-Za-z0-9_.-]{3,255}$")]
    private static partial Regex TableNamePattern();
}
