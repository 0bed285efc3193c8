using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;
using Orleans.Storage;

namespace Orleans.Shuffle.Persistence.DynamoDB;

/// <summary>Settings of one DynamoDB grain storage provider, after Orleans' DynamoDBStorageOptions.</summary>
public sealed class DynamoDBGrainStorageOptions : DynamoDBClientOptions, IStorageProviderSerializerOptions
{
    /// <summary>The table Orleans.Persistence.DynamoDB uses by default.</summary>
    public const string DefaultTableName = "OrleansGrainState";

    /// <summary>The default <see cref="ChunkSize"/>: 350 KiB, under DynamoDB's 400 KB item limit with room for the keys.</summary>
    public const int DefaultChunkSize = 350 * 1024;

    /// <summary>The smallest <see cref="ChunkSize"/> accepted.</summary>
    public const int MinChunkSize = 1024;

    /// <summary>The largest <see cref="ChunkSize"/> accepted: what still fits one item with the longest keys.</summary>
    public const int MaxChunkSize = 390 * 1024;

    /// <summary>The default <see cref="MaxStateSize"/>: 64 MiB.</summary>
    public const int DefaultMaxStateSize = 64 * 1024 * 1024;

    /// <summary>The default <see cref="TimeToLive"/>: 30 days.</summary>
    public static readonly TimeSpan DefaultTimeToLive = TimeSpan.FromDays(30);

    /// <summary>
    /// Name of the table. Default "OrleansGrainState", as Orleans'. Services can share it: the hash key
    /// starts with the service id.
    /// </summary>
    public override string TableName { get; set; } = DefaultTableName;

    /// <summary>
    /// Every write sets the items' GrainTtl attribute (epoch seconds, which the table's TTL reads) to
    /// now + this, so the state of a grain that stopped writing (an application abandoned, never
    /// unregistered) expires. Default 30 days; null turns expiry off (and a write removes an old GrainTtl).
    /// Keep it far above the longest time a live grain goes without writing its state.
    /// </summary>
    public TimeSpan? TimeToLive { get; set; } = DefaultTimeToLive;

    /// <summary>
    /// ClearStateAsync deletes the items instead of leaving a cleared record (no state, the next
    /// ETag), as Orleans' option of that name. Default false: the cleared record keeps ETags rising
    /// across a clear, so an activation that read the state before the clear cannot write over a state
    /// written after it; the record expires with <see cref="TimeToLive"/>.
    /// </summary>
    public bool DeleteStateOnClear { get; set; }

    /// <summary>
    /// A serialized state larger than this is split into items of this many bytes (DynamoDB refuses
    /// items over 400 KB; Orleans' provider fails such states). Default 350 KiB; 1 KiB to 390 KiB.
    /// </summary>
    public int ChunkSize { get; set; } = DefaultChunkSize;

    /// <summary>A write of a larger serialized state is refused with an ArgumentException before anything is written. Default 64 MiB.</summary>
    public int MaxStateSize { get; set; } = DefaultMaxStateSize;

    /// <summary>The silo lifecycle stage at which the table is created and checked. Default ApplicationServices, as Orleans'.</summary>
    public int InitStage { get; set; } = ServiceLifecycleStage.ApplicationServices;

    /// <summary>How states become bytes. Default: the IGrainStorageSerializer the silo configures (named after the provider, else the silo's).</summary>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;

    public override IReadOnlyList<string> Validate(string sectionName)
    {
        var problems = base.Validate(sectionName).ToList();
        if (TimeToLive is { } ttl && ttl <= TimeSpan.Zero)
            problems.Add($"{sectionName}:TimeToLive must be positive, or null to turn expiry off.");
        if (ChunkSize is < MinChunkSize or > MaxChunkSize)
            problems.Add($"{sectionName}:ChunkSize {ChunkSize} must be between {MinChunkSize} and {MaxChunkSize} bytes (DynamoDB items are at most 400 KB).");
        if (MaxStateSize < 1)
            problems.Add($"{sectionName}:MaxStateSize must be positive.");
        return problems;
    }
}
