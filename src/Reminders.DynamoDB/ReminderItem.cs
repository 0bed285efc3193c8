using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Reminders.DynamoDB;

/// <summary>
/// A reminder as an item of Orleans.Reminders.DynamoDB's table: hash key ReminderId =
/// "{ServiceId}_{GrainId}_{ReminderName}" (S), range key GrainHash = the grain's uniform hash (N);
/// ServiceId, GrainReference (the grain id), ReminderName, StartTime and Period (S), ETag (N); and two
/// global secondary indexes, ServiceIdIndex (ServiceId, GrainHash) for ring ranges and
/// ServiceIdGrainReferenceIndex (ServiceId, GrainReference) for one grain's reminders.
/// </summary>
internal static class ReminderItem
{
    public const string ReminderId = "ReminderId";
    public const string GrainHash = "GrainHash";
    public const string ServiceId = "ServiceId";
    public const string GrainReference = "GrainReference";
    public const string ReminderName = "ReminderName";
    public const string StartTime = "StartTime";
    public const string Period = "Period";
    public const string ETag = "ETag";

    public const string ServiceIdIndex = "ServiceIdIndex";
    public const string ServiceIdGrainReferenceIndex = "ServiceIdGrainReferenceIndex";

    /// <summary>
    /// StartTime as written: ISO 8601 to the tick, without an offset (the time is UTC), which
    /// DateTime.Parse, as the official provider reads it, reads alike in every culture.
    /// </summary>
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff";

    public static DynamoDBTableDefinition Definition(DynamoDBReminderTableOptions options)
    {
        var serviceId = new DynamoDBKeyAttribute(ServiceId, ScalarAttributeType.S);
        var grainHash = new DynamoDBKeyAttribute(GrainHash, ScalarAttributeType.N);
        return new DynamoDBTableDefinition
        {
            TableName = options.TableName,
            HashKey = new DynamoDBKeyAttribute(ReminderId, ScalarAttributeType.S),
            RangeKey = grainHash,
            Indexes =
            [
                new DynamoDBIndexDefinition(ServiceIdIndex, serviceId, grainHash),
                new DynamoDBIndexDefinition(ServiceIdGrainReferenceIndex, serviceId, new DynamoDBKeyAttribute(GrainReference, ScalarAttributeType.S)),
            ],
            Purpose = "reminders",
            Section = DynamoDBReminderTableOptions.SectionName,
            Operations = "GetItem, UpdateItem, DeleteItem, Query (on the table's indexes) and BatchWriteItem",
        };
    }

    public static Dictionary<string, AttributeValue> Key(string serviceId, GrainId grainId, string reminderName) => new()
    {
        [ReminderId] = new() { S = $"{serviceId}_{grainId}_{reminderName}" },
        [GrainHash] = DynamoDBValues.Number(grainId.GetUniformHashCode()),
    };

    /// <summary>The attributes besides the keys and the ETag.</summary>
    public static Dictionary<string, AttributeValue> Fields(string serviceId, ReminderEntry entry) => new()
    {
        [ServiceId] = new() { S = serviceId },
        [GrainReference] = new() { S = entry.GrainId.ToString() },
        [ReminderName] = new() { S = entry.ReminderName },
        [StartTime] = new() { S = FormatTime(entry.StartAt) },
        [Period] = new() { S = entry.Period.ToString("c", CultureInfo.InvariantCulture) },
    };

    public static ReminderEntry Parse(Dictionary<string, AttributeValue> item) => new()
    {
        GrainId = GrainId.Parse(DynamoDBValues.GetString(item, GrainReference)),
        ReminderName = DynamoDBValues.GetString(item, ReminderName),
        StartAt = ParseTime(DynamoDBValues.GetString(item, StartTime)),
        Period = TimeSpan.Parse(DynamoDBValues.GetString(item, Period), CultureInfo.InvariantCulture),
        ETag = DynamoDBValues.Etag(DynamoDBValues.GetLong(item, ETag)),
    };

    private static string FormatTime(DateTime time) =>
        (time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : time).ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>Ours, or what the official provider wrote (the time's ToString() in the invariant culture, e.g. "01/02/2026 03:04:05").</summary>
    private static DateTime ParseTime(string value)
    {
        const DateTimeStyles Utc = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
        if (DateTime.TryParseExact(value, TimeFormat, CultureInfo.InvariantCulture, Utc, out var ours)) return ours;
        if (DateTime.TryParse(value, CultureInfo.InvariantCulture, Utc, out var invariant)) return invariant;
        return DateTime.Parse(value, CultureInfo.CurrentCulture, Utc);
    }
}
