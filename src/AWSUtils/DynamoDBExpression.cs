using System.Globalization;
using Amazon.DynamoDBv2.Model;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// The placeholders of one request's expressions: each attribute name gets a "#nK" and each value a
/// ":vK", so no attribute name can clash with a DynamoDB reserved word and only placeholders in use
/// are sent (DynamoDB refuses unused ones).
/// </summary>
public sealed class DynamoDBExpression
{
    private readonly Dictionary<string, string> _byName = new(StringComparer.Ordinal);

    public Dictionary<string, string> Names { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, AttributeValue> Values { get; } = new(StringComparer.Ordinal);

    /// <summary>The placeholder of attribute <paramref name="attribute"/>.</summary>
    public string Name(string attribute)
    {
        if (!_byName.TryGetValue(attribute, out string? placeholder))
        {
            placeholder = "#n" + _byName.Count.ToString(CultureInfo.InvariantCulture);
            _byName[attribute] = placeholder;
            Names[placeholder] = attribute;
        }
        return placeholder;
    }

    /// <summary>A placeholder for <paramref name="value"/>.</summary>
    public string Value(AttributeValue value)
    {
        string placeholder = ":v" + Values.Count.ToString(CultureInfo.InvariantCulture);
        Values[placeholder] = value;
        return placeholder;
    }

    public string Value(long value) => Value(DynamoDBValues.Number(value));

    public string Value(string value) => Value(new AttributeValue { S = value });

    /// <summary>Null when nothing was named, as requests want it.</summary>
    public Dictionary<string, string>? NamesOrNull => Names.Count > 0 ? Names : null;

    public Dictionary<string, AttributeValue>? ValuesOrNull => Values.Count > 0 ? Values : null;
}
