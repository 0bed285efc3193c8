using System.Net.Http;
using System.Net.Sockets;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;

namespace Orleans.Shuffle.Membership.DynamoDB;

/// <summary>What a provider needs of its table: name, string hash and range keys, what it is for and where it is configured.</summary>
/// <param name="Purpose">For messages: "membership", "grain storage", "grain directory".</param>
/// <param name="Section">The configuration section of the table's own settings, e.g. "Membership:DynamoDB:GrainStorage".</param>
/// <param name="TimeToLiveAttribute">The numeric attribute DynamoDB's TTL reads (epoch seconds), or null for none.</param>
/// <param name="Operations">The DynamoDB actions the provider uses, for the access-denied message.</param>
internal sealed record DynamoDBTableSpec(
    string TableName, string HashKey, string RangeKey, string Purpose, string Section, string? TimeToLiveAttribute, string Operations);

/// <summary>
/// Start-up of the membership, grain storage and grain directory tables: describe, create when missing
/// (on-demand unless provisioned throughput is configured), check the key schema, wait until ACTIVE, turn
/// TTL on where the table has it. Failures become one InvalidOperationException that says what to fix.
/// </summary>
internal static class DynamoDBTableSetup
{
    public static async Task EnsureAsync(IAmazonDynamoDB client, DynamoDBClusteringOptions options, DynamoDBTableSpec spec, DynamoDBRequestCounts requests)
    {
        string stage = "describing the table";
        try
        {
            var table = await TryDescribeAsync(client, spec, requests).ConfigureAwait(false);
            bool created = false;
            if (table is null)
            {
                if (!options.CreateIfNotExists)
                {
                    throw new InvalidOperationException(
                        $"The DynamoDB {spec.Purpose} table '{spec.TableName}' does not exist at {options.Where} and Membership:DynamoDB:CreateIfNotExists is false. " +
                        $"Create it ({KeyText(spec)}), allow the silo to create it, or check the table name and the region ({spec.Section}:TableName, Membership:DynamoDB:Service).");
                }
                stage = "creating the table";
                await CreateAsync(client, options, spec, requests).ConfigureAwait(false);
                created = true;
            }
            else
            {
                CheckKeySchema(table, options, spec);
            }

            stage = "waiting for the table to become ACTIVE";
            await WaitUntilActiveAsync(client, options, spec, table, requests).ConfigureAwait(false);

            if (spec.TimeToLiveAttribute is { } ttl)
            {
                stage = "turning on the table's time to live";
                await EnableTimeToLiveAsync(client, spec, ttl, created, requests).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (IsAwsOrNetworkFailure(e))
        {
            throw new InvalidOperationException(Explain(e, stage, options, spec), e);
        }
    }

    private static async Task<TableDescription?> TryDescribeAsync(IAmazonDynamoDB client, DynamoDBTableSpec spec, DynamoDBRequestCounts requests)
    {
        try
        {
            requests.Count("DescribeTable", write: false);
            var response = await client.DescribeTableAsync(new DescribeTableRequest { TableName = spec.TableName }).ConfigureAwait(false);
            return response.Table;
        }
        catch (ResourceNotFoundException)
        {
            return null;
        }
    }

    private static async Task CreateAsync(IAmazonDynamoDB client, DynamoDBClusteringOptions options, DynamoDBTableSpec spec, DynamoDBRequestCounts requests)
    {
        var request = new CreateTableRequest
        {
            TableName = spec.TableName,
            AttributeDefinitions =
            [
                new AttributeDefinition { AttributeName = spec.HashKey, AttributeType = ScalarAttributeType.S },
                new AttributeDefinition { AttributeName = spec.RangeKey, AttributeType = ScalarAttributeType.S },
            ],
            KeySchema =
            [
                new KeySchemaElement { AttributeName = spec.HashKey, KeyType = KeyType.HASH },
                new KeySchemaElement { AttributeName = spec.RangeKey, KeyType = KeyType.RANGE },
            ],
        };
        if (options.UseProvisionedThroughput)
        {
            request.BillingMode = BillingMode.PROVISIONED;
            request.ProvisionedThroughput = new ProvisionedThroughput
            {
                ReadCapacityUnits = options.ReadCapacityUnits,
                WriteCapacityUnits = options.WriteCapacityUnits,
            };
        }
        else
        {
            request.BillingMode = BillingMode.PAY_PER_REQUEST;
        }

        try
        {
            requests.Count("CreateTable", write: true);
            await client.CreateTableAsync(request).ConfigureAwait(false);
        }
        catch (ResourceInUseException)
        {
            // Another silo created it first: wait for ACTIVE like it does.
        }
    }

    private static void CheckKeySchema(TableDescription table, DynamoDBClusteringOptions options, DynamoDBTableSpec spec)
    {
        var keys = table.KeySchema ?? [];
        bool hash = keys.Any(k => k.AttributeName == spec.HashKey && k.KeyType == KeyType.HASH);
        bool range = keys.Any(k => k.AttributeName == spec.RangeKey && k.KeyType == KeyType.RANGE);
        if (hash && range && keys.Count == 2) return;
        string actual = string.Join(", ", keys.Select(k => $"{k.AttributeName} ({k.KeyType})"));
        throw new InvalidOperationException(
            $"The DynamoDB table '{spec.TableName}' at {options.Where} has the key schema [{actual}], not the {spec.Purpose} table's " +
            $"[{spec.HashKey} (HASH), {spec.RangeKey} (RANGE)]: it belongs to something else. Choose another {spec.Section}:TableName.");
    }

    private static async Task WaitUntilActiveAsync(
        IAmazonDynamoDB client, DynamoDBClusteringOptions options, DynamoDBTableSpec spec, TableDescription? described, DynamoDBRequestCounts requests)
    {
        var deadline = DateTime.UtcNow + options.TableReadyTimeout;
        var table = described;
        for (int poll = 0; ; poll++)
        {
            if (table?.TableStatus == TableStatus.ACTIVE) return;
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(
                    $"The DynamoDB {spec.Purpose} table '{spec.TableName}' at {options.Where} is {table?.TableStatus?.Value ?? "missing"}, not ACTIVE, " +
                    $"after {options.TableReadyTimeout.TotalSeconds:0} s (Membership:DynamoDB:TableReadyTimeout).");
            }
            if (poll > 0 || table is not null) await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * (1 << Math.Min(poll, 5))))).ConfigureAwait(false);
            table = await TryDescribeAsync(client, spec, requests).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Turns TTL on for <paramref name="attribute"/> when the table has it off. A table this silo did not
    /// create is left as it is when these credentials may not change it: its items then simply do not expire.
    /// </summary>
    private static async Task EnableTimeToLiveAsync(IAmazonDynamoDB client, DynamoDBTableSpec spec, string attribute, bool created, DynamoDBRequestCounts requests)
    {
        try
        {
            requests.Count("DescribeTimeToLive", write: false);
            var described = await client.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = spec.TableName }).ConfigureAwait(false);
            var status = described.TimeToLiveDescription?.TimeToLiveStatus;
            // ENABLING/ENABLED (on whatever attribute the owner chose) or DISABLING: not ours to change.
            if (status is not null && status != TimeToLiveStatus.DISABLED) return;

            requests.Count("UpdateTimeToLive", write: true);
            await client.UpdateTimeToLiveAsync(new UpdateTimeToLiveRequest
            {
                TableName = spec.TableName,
                TimeToLiveSpecification = new TimeToLiveSpecification { AttributeName = attribute, Enabled = true },
            }).ConfigureAwait(false);
        }
        catch (AmazonDynamoDBException e) when (e.ErrorCode == "ValidationException" && e.Message.Contains("already", StringComparison.OrdinalIgnoreCase))
        {
            // Another silo turned it on meanwhile.
        }
        catch (AmazonServiceException e) when (!created && IsAccessDenied(e))
        {
            // Someone else's table, and no dynamodb:UpdateTimeToLive here: it works, without expiry.
        }
    }

    // ---- Start-up errors ----

    internal static bool IsAwsOrNetworkFailure(Exception e) =>
        e is AmazonServiceException or AmazonClientException or HttpRequestException or SocketException or IOException or TimeoutException or TaskCanceledException;

    private static bool IsAccessDenied(AmazonServiceException e) =>
        e.ErrorCode is "AccessDeniedException" ||
        (e.StatusCode == System.Net.HttpStatusCode.Forbidden && e.ErrorCode is not ("UnrecognizedClientException" or "InvalidSignatureException"));

    private static string KeyText(DynamoDBTableSpec spec) => $"hash key {spec.HashKey}, range key {spec.RangeKey}, both strings";

    /// <summary>What went wrong at start-up (while <paramref name="stage"/>) and what to fix, in one message.</summary>
    internal static string Explain(Exception e, string stage, DynamoDBClusteringOptions options, DynamoDBTableSpec spec)
    {
        string where = options.Where;
        string table = spec.TableName;
        string detail = $"{e.GetType().Name}: {e.Message}";
        if (e is AmazonServiceException service)
        {
            string code = service.ErrorCode ?? "";
            if (IsAccessDenied(service))
            {
                string create = stage == "creating the table"
                    ? $" The table is missing and these credentials may not create it: create '{table}' ({KeyText(spec)}) or grant dynamodb:CreateTable."
                    : "";
                return $"DynamoDB at {where} denied access while {stage} ({spec.Purpose} table '{table}').{create} The silo needs dynamodb:DescribeTable, " +
                       $"CreateTable (unless the table exists), {spec.Operations} on it. ({detail})";
            }
            if (code is "UnrecognizedClientException" or "InvalidSignatureException" or "MissingAuthenticationToken" or "ExpiredTokenException" or "InvalidClientTokenId")
            {
                return $"DynamoDB at {where} rejected the credentials while {stage}: check Membership:DynamoDB:AccessKey/SecretKey or the default AWS credential chain, " +
                       $"and that Membership:DynamoDB:Service names the region the keys belong to. ({detail})";
            }
            if (service.StatusCode != 0 && code.Length > 0)
            {
                return $"DynamoDB at {where} refused a request while {stage} ({spec.Purpose} table '{table}'): {code}. ({detail})";
            }
        }
        if (e is AmazonClientException && e.Message.Contains("credentials", StringComparison.OrdinalIgnoreCase))
        {
            return $"No AWS credentials for DynamoDB at {where}: set Membership:DynamoDB:AccessKey and SecretKey, or provide credentials to the default AWS chain " +
                   $"(environment variables, profile, container or instance role). ({detail})";
        }
        return $"Could not reach DynamoDB at {where} while {stage} ({spec.Purpose} table '{table}'). Check Membership:DynamoDB:Service " +
               $"(an AWS region name such as us-east-1, or the URL of a DynamoDB endpoint such as http://localhost:8000) and that the endpoint is reachable. ({detail}{InnerDetail(e)})";
    }

    private static string InnerDetail(Exception e)
    {
        var inner = e.InnerException;
        for (int depth = 0; inner is not null && depth < 3; depth++, inner = inner.InnerException)
        {
            if (inner is HttpRequestException or SocketException or IOException) return $"; {inner.GetType().Name}: {inner.Message}";
        }
        return "";
    }

    /// <summary>A short random wait that grows with <paramref name="attempt"/>.</summary>
    internal static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Random.Shared.Next(10, 20 * (1 << Math.Min(attempt, 6))));
}

/// <summary>Runs <c>InitializeAsync</c> once; a failed run is forgotten, so the next call tries again.</summary>
internal sealed class OnceAsync(Func<Task> run)
{
    private readonly object _lock = new();
    private Task? _task;

    public bool Succeeded => _task is { IsCompletedSuccessfully: true };

    public Task RunAsync()
    {
        lock (_lock)
        {
            if (_task is null || _task.IsFaulted || _task.IsCanceled) _task = run();
            return _task;
        }
    }
}
