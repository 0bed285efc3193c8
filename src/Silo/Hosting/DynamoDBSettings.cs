using Orleans.Shuffle.AWSUtils;
using Orleans.Shuffle.Clustering.DynamoDB;
using Orleans.Shuffle.Persistence.DynamoDB;
using Orleans.Shuffle.Reminders.DynamoDB;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// The DynamoDB provider's settings (section "Membership:DynamoDB"): one endpoint and one set of
/// credentials for the three tables, each named as Orleans' official DynamoDB providers name theirs
/// by default, so a user can swap the official providers in and read the same tables.
/// </summary>
public sealed class DynamoDBSettings
{
    /// <summary>An AWS region ("us-east-1") or the URL of an endpoint ("http://localhost:8000" for DynamoDB Local). Required; --dynamodb-service.</summary>
    public string Service { get; set; } = "";

    /// <summary>Access key id; with neither key set the default AWS credential chain is used (instance role on EC2).</summary>
    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>Create a missing table at start-up (needs dynamodb:CreateTable). Default true.</summary>
    public bool CreateIfNotExists { get; set; } = true;

    /// <summary>Created tables use provisioned capacity instead of on-demand. Default false.</summary>
    public bool UseProvisionedThroughput { get; set; }

    public int ReadCapacityUnits { get; set; } = 10;

    public int WriteCapacityUnits { get; set; } = 5;

    /// <summary>The membership table. Default "OrleansSilos".</summary>
    public string SilosTableName { get; set; } = DynamoDBClusteringOptions.DefaultTableName;

    /// <summary>The ShuffleGrains' state. Default "OrleansGrainState".</summary>
    public string GrainStateTableName { get; set; } = DynamoDBGrainStorageOptions.DefaultTableName;

    /// <summary>The reminder table (application expiry). Default "OrleansReminders".</summary>
    public string RemindersTableName { get; set; } = DynamoDBReminderTableOptions.DefaultTableName;

    public DynamoDBClusteringOptions Clustering() => Apply(new DynamoDBClusteringOptions(), SilosTableName);

    public DynamoDBGrainStorageOptions GrainStorage() => Apply(new DynamoDBGrainStorageOptions(), GrainStateTableName);

    public DynamoDBReminderTableOptions Reminders() => Apply(new DynamoDBReminderTableOptions(), RemindersTableName);

    /// <summary>Copies these settings onto a provider's options.</summary>
    public T Apply<T>(T options, string tableName) where T : DynamoDBClientOptions
    {
        options.Service = Service;
        options.AccessKey = AccessKey;
        options.SecretKey = SecretKey;
        options.CreateIfNotExists = CreateIfNotExists;
        options.UseProvisionedThroughput = UseProvisionedThroughput;
        options.ReadCapacityUnits = ReadCapacityUnits;
        options.WriteCapacityUnits = WriteCapacityUnits;
        options.TableName = tableName;
        return options;
    }

    /// <summary>Every problem, named by this section's settings (each table's name by its own setting).</summary>
    public IEnumerable<string> Validate(string section)
    {
        var problems = new List<string>(Clustering().Validate(section).Select(p => Rename(p, section, nameof(SilosTableName))));
        problems.AddRange(GrainStorage().Validate(section).Where(p => p.Contains(":TableName", StringComparison.Ordinal))
            .Select(p => Rename(p, section, nameof(GrainStateTableName))));
        problems.AddRange(Reminders().Validate(section).Where(p => p.Contains(":TableName", StringComparison.Ordinal))
            .Select(p => Rename(p, section, nameof(RemindersTableName))));
        if (problems.Count == 0 && new[] { SilosTableName, GrainStateTableName, RemindersTableName }.Distinct(StringComparer.Ordinal).Count() != 3)
            problems.Add($"{section}: the silos, grain state and reminders tables must have three different names.");
        return problems;
    }

    private static string Rename(string problem, string section, string setting) =>
        problem.Replace($"{section}:TableName", $"{section}:{setting}", StringComparison.Ordinal);
}
