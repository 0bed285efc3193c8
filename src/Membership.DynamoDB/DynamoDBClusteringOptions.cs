using System.Net;
using System.Text.RegularExpressions;
using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime;

namespace Orleans.Shuffle.Membership.DynamoDB;

/// <summary>
/// Settings of the DynamoDB membership table, named after Orleans' DynamoDBClusteringOptions.
/// In a silo they are the section "Membership:DynamoDB".
/// </summary>
public sealed partial class DynamoDBClusteringOptions
{
    /// <summary>The table name used when none is configured.</summary>
    public const string DefaultTableName = "OrleansShuffleSilos";

    /// <summary>The region signed for when <see cref="Service"/> is a URL (DynamoDB Local accepts any).</summary>
    public const string UrlAuthenticationRegion = "us-east-1";

    /// <summary>
    /// Where DynamoDB is: an AWS region name ("us-east-1"), or the http(s) URL of an endpoint
    /// (DynamoDB Local, e.g. "http://localhost:8000", or a VPC endpoint). Required; no default.
    /// </summary>
    public string Service { get; set; } = "";

    /// <summary>
    /// Access key id. Optional: when neither key is set, a region uses the default AWS credential
    /// chain (environment, profile, container or instance role), and a URL endpoint that is plain
    /// http or on loopback (DynamoDB Local) uses placeholder keys. Set both keys or neither.
    /// </summary>
    public string? AccessKey { get; set; }

    /// <summary>Secret access key; see <see cref="AccessKey"/>.</summary>
    public string? SecretKey { get; set; }

    /// <summary>Name of the table. Default "OrleansShuffleSilos". Each cluster id is one hash key in it, so clusters can share a table.</summary>
    public string TableName { get; set; } = DefaultTableName;

    /// <summary>Create the table when it is missing (needs dynamodb:CreateTable). Default true.</summary>
    public bool CreateIfNotExists { get; set; } = true;

    /// <summary>A table this provider creates uses provisioned capacity instead of on-demand (PAY_PER_REQUEST). Default false.</summary>
    public bool UseProvisionedThroughput { get; set; }

    /// <summary>Read capacity units of a created table when <see cref="UseProvisionedThroughput"/>. Default 10, as in Orleans.</summary>
    public int ReadCapacityUnits { get; set; } = 10;

    /// <summary>Write capacity units of a created table when <see cref="UseProvisionedThroughput"/>. Default 5, as in Orleans.</summary>
    public int WriteCapacityUnits { get; set; } = 5;

    /// <summary>Timeout of one HTTP request to DynamoDB. Default 10 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of the AWS SDK for a throttled or failed request (the SDK's standard mode backs off). Default 3.</summary>
    public int MaxErrorRetry { get; set; } = 3;

    /// <summary>How long start-up waits for a new table to become ACTIVE. Default 2 min.</summary>
    public TimeSpan TableReadyTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The grain storage table (ShuffleGrain state) of a silo whose membership is DynamoDB, in the same
    /// <see cref="Service"/> with the same credentials (section "Membership:DynamoDB:GrainStorage").
    /// </summary>
    public DynamoDBGrainStorageOptions GrainStorage { get; set; } = new();

    /// <summary>The grain directory table of such a silo (section "Membership:DynamoDB:GrainDirectory").</summary>
    public DynamoDBGrainDirectoryOptions GrainDirectory { get; set; } = new();

    /// <summary>True when <see cref="Service"/> is an http(s) URL rather than a region name.</summary>
    public bool IsUrl => TryGetUrl(Service, out _);

    /// <summary>Where requests go, for messages: the URL or "region us-east-1".</summary>
    public string Where => IsUrl ? Service : $"region {Service}";

    /// <summary>Every problem of these settings, each a sentence naming the setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section = "DynamoDB")
    {
        if (string.IsNullOrWhiteSpace(Service))
        {
            yield return $"{section}:Service is not set: give an AWS region name (e.g. us-east-1) or the http(s) URL of a DynamoDB endpoint (e.g. http://localhost:8000 for DynamoDB Local).";
        }
        else if (Service.Contains("://", StringComparison.Ordinal))
        {
            if (!TryGetUrl(Service, out _))
                yield return $"{section}:Service '{Service}' is not a valid http(s) URL (e.g. http://localhost:8000).";
        }
        else if (!RegionName().IsMatch(Service))
        {
            yield return $"{section}:Service '{Service}' is neither an AWS region name (e.g. us-east-1, eu-west-2) nor an http(s) URL.";
        }

        if (string.IsNullOrEmpty(AccessKey) != string.IsNullOrEmpty(SecretKey))
            yield return $"{section}:AccessKey and {section}:SecretKey go together: set both, or neither to use the default AWS credential chain.";
        if (string.IsNullOrEmpty(TableName) || !TableNamePattern().IsMatch(TableName))
            yield return $"{section}:TableName '{TableName}' is not a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, '_', '-', '.').";
        if (UseProvisionedThroughput && ReadCapacityUnits < 1)
            yield return $"{section}:ReadCapacityUnits must be >= 1 with UseProvisionedThroughput.";
        if (UseProvisionedThroughput && WriteCapacityUnits < 1)
            yield return $"{section}:WriteCapacityUnits must be >= 1 with UseProvisionedThroughput.";
        if (RequestTimeout <= TimeSpan.Zero) yield return $"{section}:RequestTimeout must be positive.";
        if (MaxErrorRetry < 0) yield return $"{section}:MaxErrorRetry must be >= 0.";
        if (TableReadyTimeout <= TimeSpan.Zero) yield return $"{section}:TableReadyTimeout must be positive.";
        foreach (string failure in (GrainStorage ?? new()).Validate($"{section}:GrainStorage")) yield return failure;
        foreach (string failure in (GrainDirectory ?? new()).Validate($"{section}:GrainDirectory")) yield return failure;
        var names = new[] { TableName, GrainStorage?.TableName, GrainDirectory?.TableName };
        if (names.Distinct(StringComparer.Ordinal).Count() < names.Length)
            yield return $"{section}:TableName, {section}:GrainStorage:TableName and {section}:GrainDirectory:TableName must name three different tables.";
    }

    /// <summary>A client for <see cref="Service"/>: a URL becomes ServiceURL (signed for us-east-1), a name a region endpoint.</summary>
    public AmazonDynamoDBClient CreateClient()
    {
        var problems = Validate().ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join(" ", problems));

        var config = new AmazonDynamoDBConfig
        {
            Timeout = RequestTimeout,
            MaxErrorRetry = MaxErrorRetry,
        };
        AWSCredentials? credentials = null;
        if (!string.IsNullOrEmpty(AccessKey)) credentials = new BasicAWSCredentials(AccessKey, SecretKey);

        if (TryGetUrl(Service, out var url))
        {
            config.ServiceURL = Service;
            config.AuthenticationRegion = UrlAuthenticationRegion;
            // DynamoDB Local checks no signature: spare developers the credential set-up.
            if (credentials is null && (url.Scheme == Uri.UriSchemeHttp || IsLoopback(url))) credentials = new BasicAWSCredentials("local", "local");
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(Service);
        }
        return credentials is null ? new AmazonDynamoDBClient(config) : new AmazonDynamoDBClient(credentials, config);
    }

    private static bool TryGetUrl(string service, out Uri url)
    {
        if (Uri.TryCreate(service, UriKind.Absolute, out var parsed) && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps) && parsed.Host.Length > 0)
        {
            url = parsed;
            return true;
        }
        url = null!;
        return false;
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
    private static partial Regex RegionName();

    [GeneratedRegex("^[A-Za-z0-9_.-]{3,255}$")]
    private static partial Regex TableNamePattern();
}
