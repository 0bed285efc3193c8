using System.Globalization;
using Amazon.DynamoDBv2.Model;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>Reading and writing attribute values the same way in every provider (invariant culture, clear errors).</summary>
public static class DynamoDBValues
{
    public static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    public static AttributeValue String(string value) => new() { S = value };

    /// <summary>The string attribute <paramref name="name"/>, or <paramref name="fallback"/> when it is absent; absent without a fallback throws <see cref="KeyNotFoundException"/>.</summary>
    public static string GetString(Dictionary<string, AttributeValue> item, string name, string? fallback = null)
    {
        if (item.TryGetValue(name, out var value) && value.S is not null) return value.S;
        return fallback ?? throw new KeyNotFoundException($"attribute {name} is missing");
    }

    /// <summary>The number attribute <paramref name="name"/>, or <paramref name="fallback"/> when it is absent; absent without a fallback throws <see cref="KeyNotFoundException"/>.</summary>
    public static long GetLong(Dictionary<string, AttributeValue> item, string name, long? fallback = null) =>
        TryGetLong(item, name) ?? fallback ?? throw new KeyNotFoundException($"attribute {name} is missing");

    public static long? TryGetLong(Dictionary<string, AttributeValue> item, string name) =>
        item.TryGetValue(name, out var value) && value.N is not null ? long.Parse(value.N, NumberStyles.Integer, CultureInfo.InvariantCulture) : null;

    /// <summary>An etag as a provider hands it out: the decimal string of its number.</summary>
    public static string Etag(long etag) => etag.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses an etag handed out by <see cref="Etag"/>; false for anything else.</summary>
    public static bool TryParseEtag(string? etag, out long value) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
