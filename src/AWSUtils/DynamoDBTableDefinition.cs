using Amazon.DynamoDBv2;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>A key attribute of a table or index: its name and scalar type (S or N).</summary>
public sealed record DynamoDBKeyAttribute(string Name, ScalarAttributeType Type)
{
    public override string ToString() => $"{Name} ({Type.Value})";
}

/// <summary>A global secondary index a provider queries, projected ALL.</summary>
public sealed record DynamoDBIndexDefinition(string IndexName, DynamoDBKeyAttribute HashKey, DynamoDBKeyAttribute RangeKey)
{
    public override string ToString() => $"{IndexName} [hash {HashKey}, range {RangeKey}]";
}

/// <summary>
/// What a provider needs of its table, for <see cref="DynamoDBTableSetup"/>: the keys and indexes it is
/// created with and checked against, the TTL attribute, and the words its start-up errors use.
/// </summary>
public sealed record DynamoDBTableDefinition
{
    public required string TableName { get; init; }

    public required DynamoDBKeyAttribute HashKey { get; init; }

    public required DynamoDBKeyAttribute RangeKey { get; init; }

    /// <summary>Global secondary indexes the provider queries; created with the table, required of an existing one.</summary>
    public IReadOnlyList<DynamoDBIndexDefinition> Indexes { get; init; } = [];

    /// <summary>The numeric attribute (epoch seconds) DynamoDB's TTL reads, or null for none.</summary>
    public string? TimeToLiveAttribute { get; init; }

    /// <summary>What the table is for, in messages: "membership", "grain storage", "reminders".</summary>
    public required string Purpose { get; init; }

    /// <summary>Where the provider's settings are, in messages: "DynamoDBClustering" makes "DynamoDBClustering:TableName".</summary>
    public required string Section { get; init; }

    /// <summary>The DynamoDB actions the provider uses, for the access-denied message, e.g. "GetItem, Query and TransactWriteItems".</summary>
    public required string Operations { get; init; }

    /// <summary>Every key attribute of the table and its indexes, once each.</summary>
    public IEnumerable<DynamoDBKeyAttribute> KeyAttributes =>
        new[] { HashKey, RangeKey }.Concat(Indexes.SelectMany(i => new[] { i.HashKey, i.RangeKey })).DistinctBy(a => a.Name);

    /// <summary>The key schema as messages show it.</summary>
    public string KeyText => $"hash key {HashKey}, range key {RangeKey}" +
        (Indexes.Count > 0 ? $", global secondary indexes {string.Join(" and ", Indexes)} projecting all attributes" : "");
}
