using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// Start-up of a provider's table: describe it, create it when missing (on-demand unless provisioned
/// throughput is configured), check that an existing one has the provider's keys and indexes, wait
/// until it is ACTIVE, and turn TTL on where the provider has a TTL attribute. Every failure becomes
/// one <see cref="InvalidOperationException"/> that says what to fix (<see cref="DynamoDBStartupErrors"/>).
/// </summary>
public static partial class DynamoDBTableSetup
{
    /// <summary>The longest pause between two DescribeTable calls while waiting for ACTIVE.</summary>
    private static readonly TimeSpan MaxPollInterval = TimeSpan.FromSeconds(2);

    public static async Task EnsureAsync(
        IAmazonDynamoDB client,
        DynamoDBClientOptions options,
        DynamoDBTableDefinition table,
        DynamoDBRequestCounts requests,
        ILogger logger,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        string stage = "describing the table";
        try
        {
            var described = await TryDescribeAsync(client, table, requests, cancellationToken).ConfigureAwait(false);
            bool created = false;
            if (described is null)
            {
                if (!options.CreateIfNotExists)
                {
                    throw new InvalidOperationException(
                        $"The DynamoDB {table.Purpose} table '{table.TableName}' does not exist at {options.Where} and {table.Section}:CreateIfNotExists is false. " +
                        $"Create it ({table.KeyText}), allow the provider to create it, or check {table.Section}:TableName and {table.Section}:Service (the region).");
                }
                stage = "creating the table";
                await CreateAsync(client, options, table, requests, cancellationToken).ConfigureAwait(false);
                LogTableCreated(logger, table.TableName, options.Where);
                created = true;
            }
            else
            {
                CheckSchema(described, options, table);
            }

            stage = "waiting for the table to become ACTIVE";
            await WaitUntilActiveAsync(client, options, table, described, requests, time, cancellationToken).ConfigureAwait(false);

            if (table.TimeToLiveAttribute is { } ttl)
            {
                stage = "turning on the table's time to live";
                await EnableTimeToLiveAsync(client, table, ttl, created, requests, logger, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (DynamoDBStartupErrors.IsAwsOrNetworkFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(DynamoDBStartupErrors.Explain(e, stage, options, table), e);
        }
    }

    private static async Task<TableDescription?> TryDescribeAsync(
        IAmazonDynamoDB client, DynamoDBTableDefinition table, DynamoDBRequestCounts requests, CancellationToken cancellationToken)
    {
        try
        {
            requests.Count("DescribeTable", write: false);
            var response = await client.DescribeTableAsync(new DescribeTableRequest { TableName = table.TableName }, cancellationToken).ConfigureAwait(false);
            return response.Table;
        }
        catch (ResourceNotFoundException)
        {
            return null;
        }
    }

    private static async Task CreateAsync(
        IAmazonDynamoDB client, DynamoDBClientOptions options, DynamoDBTableDefinition table, DynamoDBRequestCounts requests, CancellationToken cancellationToken)
    {
        ProvisionedThroughput? throughput = options.UseProvisionedThroughput
            ? new ProvisionedThroughput { ReadCapacityUnits = options.ReadCapacityUnits, WriteCapacityUnits = options.WriteCapacityUnits }
            : null;
        var request = new CreateTableRequest
        {
            TableName = table.TableName,
            AttributeDefinitions = table.KeyAttributes.Select(a => new AttributeDefinition { AttributeName = a.Name, AttributeType = a.Type }).ToList(),
            KeySchema = Keys(table.HashKey, table.RangeKey),
            BillingMode = throughput is null ? BillingMode.PAY_PER_REQUEST : BillingMode.PROVISIONED,
            ProvisionedThroughput = throughput,
        };
        if (table.Indexes.Count > 0)
        {
            request.GlobalSecondaryIndexes = table.Indexes.Select(i => new GlobalSecondaryIndex
            {
                IndexName = i.IndexName,
                KeySchema = Keys(i.HashKey, i.RangeKey),
                Projection = new Projection { ProjectionType = ProjectionType.ALL },
                ProvisionedThroughput = throughput,
            }).ToList();
        }

        try
        {
            requests.Count("CreateTable", write: true);
            await client.CreateTableAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceInUseException)
        {
            // Another silo created it first: wait for ACTIVE as it does.
        }
    }

    private static List<KeySchemaElement> Keys(DynamoDBKeyAttribute hash, DynamoDBKeyAttribute range) =>
    [
        new KeySchemaElement { AttributeName = hash.Name, KeyType = KeyType.HASH },
        new KeySchemaElement { AttributeName = range.Name, KeyType = KeyType.RANGE },
    ];

    /// <summary>An existing table must have the provider's keys, of the provider's types, and its indexes.</summary>
    private static void CheckSchema(TableDescription described, DynamoDBClientOptions options, DynamoDBTableDefinition table)
    {
        var types = (described.AttributeDefinitions ?? []).ToDictionary(a => a.AttributeName, a => a.AttributeType?.Value, StringComparer.Ordinal);
        if (!HasKeys(described.KeySchema, types, table.HashKey, table.RangeKey))
        {
            throw new InvalidOperationException(
                $"The DynamoDB table '{table.TableName}' at {options.Where} has the key schema [{KeysText(described.KeySchema, types)}], not the {table.Purpose} table's " +
                $"[{table.HashKey} HASH, {table.RangeKey} RANGE]: it belongs to something else. Choose another {table.Section}:TableName.");
        }

        var missing = table.Indexes
            .Where(index => !(described.GlobalSecondaryIndexes ?? []).Any(g => g.IndexName == index.IndexName && HasKeys(g.KeySchema, types, index.HashKey, index.RangeKey)))
            .ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"The DynamoDB {table.Purpose} table '{table.TableName}' at {options.Where} lacks the global secondary index(es) {string.Join(" and ", missing)} " +
                $"that the provider queries. Add them (projecting all attributes) or choose another {table.Section}:TableName.");
        }
    }

    private static bool HasKeys(List<KeySchemaElement>? keys, Dictionary<string, string?> types, DynamoDBKeyAttribute hash, DynamoDBKeyAttribute range) =>
        keys is { Count: 2 }
        && keys.Any(k => k.AttributeName == hash.Name && k.KeyType == KeyType.HASH)
        && keys.Any(k => k.AttributeName == range.Name && k.KeyType == KeyType.RANGE)
        && types.GetValueOrDefault(hash.Name) == hash.Type.Value
        && types.GetValueOrDefault(range.Name) == range.Type.Value;

    private static string KeysText(List<KeySchemaElement>? keys, Dictionary<string, string?> types) =>
        string.Join(", ", (keys ?? []).Select(k => $"{k.AttributeName} ({types.GetValueOrDefault(k.AttributeName) ?? "?"}) {k.KeyType?.Value}"));

    private static async Task WaitUntilActiveAsync(
        IAmazonDynamoDB client, DynamoDBClientOptions options, DynamoDBTableDefinition table, TableDescription? described,
        DynamoDBRequestCounts requests, TimeProvider time, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + options.TableReadyTimeout;
        var current = described;
        // Bounded by the deadline: each round waits at least 100 ms.
        for (int poll = 0; ; poll++)
        {
            if (IsReady(current)) return;
            if (time.GetUtcNow() > deadline)
            {
                throw new InvalidOperationException(
                    $"The DynamoDB {table.Purpose} table '{table.TableName}' at {options.Where} is {StatusText(current)}, not ACTIVE, " +
                    $"after {options.TableReadyTimeout.TotalSeconds:0.#} s ({table.Section}:TableReadyTimeout).");
            }
            if (current is not null || poll > 0)
            {
                var pause = TimeSpan.FromMilliseconds(Math.Min(MaxPollInterval.TotalMilliseconds, 100 * (1 << Math.Min(poll, 5))));
                await Task.Delay(pause, time, cancellationToken).ConfigureAwait(false);
            }
            current = await TryDescribeAsync(client, table, requests, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsReady(TableDescription? table) =>
        table?.TableStatus == TableStatus.ACTIVE && (table.GlobalSecondaryIndexes ?? []).All(i => i.IndexStatus == IndexStatus.ACTIVE);

    private static string StatusText(TableDescription? table)
    {
        if (table is null) return "missing";
        var indexes = (table.GlobalSecondaryIndexes ?? []).Where(i => i.IndexStatus != IndexStatus.ACTIVE).Select(i => $"index {i.IndexName} {i.IndexStatus?.Value}");
        return string.Join(", ", new[] { table.TableStatus?.Value ?? "of unknown status" }.Concat(indexes));
    }

    /// <summary>
    /// Turns TTL on for <paramref name="attribute"/> when the table has it off. TTL that is on for another
    /// attribute, or a table this provider did not create and may not change, is left as it is (with a
    /// warning): the provider works, its items just do not expire.
    /// </summary>
    private static async Task EnableTimeToLiveAsync(
        IAmazonDynamoDB client, DynamoDBTableDefinition table, string attribute, bool created, DynamoDBRequestCounts requests, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            requests.Count("DescribeTimeToLive", write: false);
            var described = await client.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = table.TableName }, cancellationToken).ConfigureAwait(false);
            var current = described.TimeToLiveDescription;
            if (current?.TimeToLiveStatus is { } status && status != TimeToLiveStatus.DISABLED)
            {
                if (current.AttributeName != attribute) LogTimeToLiveOnOtherAttribute(logger, table.TableName, current.AttributeName ?? "?", attribute);
                return;
            }

            requests.Count("UpdateTimeToLive", write: true);
            await client.UpdateTimeToLiveAsync(new UpdateTimeToLiveRequest
            {
                TableName = table.TableName,
                TimeToLiveSpecification = new TimeToLiveSpecification { AttributeName = attribute, Enabled = true },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonDynamoDBException e) when (e.ErrorCode == "ValidationException" && e.Message.Contains("already", StringComparison.OrdinalIgnoreCase))
        {
            // Another silo turned it on meanwhile.
        }
        catch (AmazonServiceException e) when (!created && DynamoDBStartupErrors.IsAccessDenied(e))
        {
            LogTimeToLiveNotAllowed(logger, table.TableName, attribute);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created DynamoDB table {TableName} at {Where}.")]
    private static partial void LogTableCreated(ILogger logger, string tableName, string where);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DynamoDB table {TableName} has time to live on attribute {Current}, not {Wanted}: items written by this provider will not expire.")]
    private static partial void LogTimeToLiveOnOtherAttribute(ILogger logger, string tableName, string current, string wanted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "May not turn on time to live for attribute {Attribute} of DynamoDB table {TableName} (no dynamodb:UpdateTimeToLive): items will not expire.")]
    private static partial void LogTimeToLiveNotAllowed(ILogger logger, string tableName, string attribute);
}
