using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Reminders.DynamoDB;

/// <summary>Settings of the DynamoDB reminder table, after Orleans' DynamoDBReminderStorageOptions. Reminders belong to Orleans' ServiceId.</summary>
public sealed class DynamoDBReminderTableOptions : DynamoDBClientOptions
{
    /// <summary>The table Orleans.Reminders.DynamoDB uses by default.</summary>
    public const string DefaultTableName = "OrleansReminders";

    /// <summary>Where the settings are named in messages.</summary>
    public const string SectionName = "DynamoDBReminders";

    /// <summary>Name of the table. Default "OrleansReminders", as Orleans'. Services can share it (its indexes start with the service id).</summary>
    public override string TableName { get; set; } = DefaultTableName;
}
