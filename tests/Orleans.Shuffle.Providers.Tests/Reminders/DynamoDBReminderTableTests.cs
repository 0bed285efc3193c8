using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.Providers.Tests.Infrastructure;
using Orleans.Shuffle.Reminders.DynamoDB;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Reminders;

/// <summary>
/// The conformance suite on DynamoDB Local, plus what is particular to DynamoDB: the table, its indexes
/// and items of Orleans.Reminders.DynamoDB, and the start-up errors. Each test has its own table.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBReminderTableTests(DynamoDbLocalFixture dynamo) : ReminderTableTestsBase
{
    private readonly DynamoDbTestTables _tables = new(dynamo, "reminders");

    private DynamoDBReminderTable Open(string serviceId, Action<DynamoDBReminderTableOptions>? configure = null)
    {
        var options = dynamo.Options<DynamoDBReminderTableOptions>(_tables.TableName);
        configure?.Invoke(options);
        return _tables.Track(new DynamoDBReminderTable(
            Options.Create(options), Options.Create(new ClusterOptions { ServiceId = serviceId }), NullLogger<DynamoDBReminderTable>.Instance, TimeProvider.System));
    }

    protected override IReminderTable OpenTable(string serviceId) => Open(serviceId);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _tables.DisposeAsync();
    }

    [Fact]
    public async Task The_table_and_its_indexes_are_Orleans_DynamoDB_ones()
    {
        var table = await _tables.DescribeAsync();
        Assert.Equal(BillingMode.PAY_PER_REQUEST, table.BillingModeSummary?.BillingMode);
        Assert.Equal([("ReminderId", "HASH"), ("GrainHash", "RANGE")], table.KeySchema.Select(k => (k.AttributeName, k.KeyType.Value)));
        Assert.Equal([("GrainHash", "N"), ("GrainReference", "S"), ("ReminderId", "S"), ("ServiceId", "S")],
            table.AttributeDefinitions.Select(a => (a.AttributeName, a.AttributeType.Value)).OrderBy(a => a.AttributeName, StringComparer.Ordinal));
        var indexes = table.GlobalSecondaryIndexes.ToDictionary(i => i.IndexName);
        Assert.Equal(["ServiceIdGrainReferenceIndex", "ServiceIdIndex"], indexes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([("ServiceId", "HASH"), ("GrainHash", "RANGE")], indexes["ServiceIdIndex"].KeySchema.Select(k => (k.AttributeName, k.KeyType.Value)));
        Assert.Equal([("ServiceId", "HASH"), ("GrainReference", "RANGE")], indexes["ServiceIdGrainReferenceIndex"].KeySchema.Select(k => (k.AttributeName, k.KeyType.Value)));
        Assert.All(indexes.Values, i => Assert.Equal(ProjectionType.ALL, i.Projection.ProjectionType));
    }

    [Fact]
    public async Task A_reminder_is_stored_as_the_official_provider_stores_it()
    {
        var reminder = NewReminder(NewGrain(), "tick/1");
        string etag = (await Table.UpsertRow(reminder, CancellationToken.None))!;
        var item = Assert.Single(await _tables.QueryAsync("ReminderId", $"{ServiceId}_{reminder.GrainId}_tick/1"));
        Assert.Equal(["ETag", "GrainHash", "GrainReference", "Period", "ReminderId", "ReminderName", "ServiceId", "StartTime"], item.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(reminder.GrainId.GetUniformHashCode().ToString(), item["GrainHash"].N);
        Assert.Equal((ServiceId, reminder.GrainId.ToString(), "tick/1", "00:01:30", etag),
            (item["ServiceId"].S, item["GrainReference"].S, item["ReminderName"].S, item["Period"].S, item["ETag"].N));
        // StartTime is ISO 8601 to the tick, which the official provider's DateTime.Parse reads in every culture.
        Assert.Equal("2026-03-04T05:06:07.8900000", item["StartTime"].S);
        Assert.Equal(reminder.StartAt, DateTime.Parse(item["StartTime"].S!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_reminder_written_by_the_official_provider_is_read()
    {
        var grain = NewGrain();
        // As Orleans.Reminders.DynamoDB writes it: StartAt.ToString() and Period.ToString() in the invariant culture, a random ETag.
        await _tables.Raw.PutItemAsync(new PutItemRequest
        {
            TableName = _tables.TableName,
            Item = new()
            {
                ["ReminderId"] = new() { S = $"{ServiceId}_{grain}_legacy" }, ["GrainHash"] = new() { N = grain.GetUniformHashCode().ToString() },
                ["ServiceId"] = new() { S = ServiceId }, ["GrainReference"] = new() { S = grain.ToString() }, ["ReminderName"] = new() { S = "legacy" },
                ["Period"] = new() { S = "01:00:00" }, ["StartTime"] = new() { S = "03/04/2026 05:06:07" }, ["ETag"] = new() { N = "1938472" },
            },
        });
        var read = await Table.ReadRow(grain, "legacy", CancellationToken.None);
        Assert.NotNull(read);
        Assert.Equal((new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc), TimeSpan.FromHours(1), "1938472"), (read.StartAt, read.Period, read.ETag));
        Assert.Equal("legacy", Assert.Single((await Table.ReadRows(grain, CancellationToken.None)).Reminders).ReminderName);
        Assert.True(await Table.RemoveRow(grain, "legacy", "1938472", CancellationToken.None));
    }

    [Fact]
    public async Task A_table_without_the_indexes_is_a_clear_start_up_error()
    {
        string name = _tables.OtherTable("no-index");
        await _tables.Raw.CreateTableAsync(new CreateTableRequest
        {
            TableName = name,
            BillingMode = BillingMode.PAY_PER_REQUEST,
            AttributeDefinitions = [new() { AttributeName = "ReminderId", AttributeType = ScalarAttributeType.S }, new() { AttributeName = "GrainHash", AttributeType = ScalarAttributeType.N }],
            KeySchema = [new() { AttributeName = "ReminderId", KeyType = KeyType.HASH }, new() { AttributeName = "GrainHash", KeyType = KeyType.RANGE }],
        });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Open(ServiceId, o => o.TableName = name).StartAsync());
        Assert.Contains($"The DynamoDB reminders table '{name}'", e.Message);
        Assert.Contains("lacks the global secondary index(es) ServiceIdIndex [hash ServiceId (S), range GrainHash (N)] and ServiceIdGrainReferenceIndex", e.Message);
    }

    [Fact]
    public async Task A_table_of_another_schema_is_a_clear_start_up_error()
    {
        string foreign = await _tables.CreateForeignTableAsync();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Open(ServiceId, o => o.TableName = foreign).StartAsync());
        Assert.Contains("[ReminderId (S) HASH, GrainHash (N) RANGE]", e.Message);
        Assert.Contains("Choose another DynamoDBReminders:TableName", e.Message);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_a_clear_start_up_error()
    {
        var table = Open(ServiceId, o => { o.Service = DynamoDbLocalFixture.UnusedLoopbackUrl(); o.MaxErrorRetry = 0; o.RequestTimeout = TimeSpan.FromSeconds(2); });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => table.StartAsync());
        Assert.StartsWith("Could not reach DynamoDB at http://127.0.0.1:", e.Message);
        Assert.Contains("Check DynamoDBReminders:Service", e.Message);
    }
}
