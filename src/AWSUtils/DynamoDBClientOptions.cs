using System.Net;
using System.Text.RegularExpressions;
using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// Where DynamoDB is, how to sign in and how a provider creates its table: the settings every
/// DynamoDB provider of this repository shares, after Orleans' DynamoDBClientOptions. Each provider's
/// options derive from it and add their table name.
/// </summary>
public abstract partial class DynamoDBClientOptions
{
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
    [Redact]
    public string? AccessKey { get; set; }

    /// <summary>Secret access key; see <see cref="AccessKey"/>.</summary>
    [Redact]
    public string? SecretKey { get; set; }

    /// <summary>Create the table when it is missing (needs dynamodb:CreateTable). Default true.</summary>
    public bool CreateIfNotExists { get; set; } = true;

    /// <summary>
    /// A table this provider creates uses provisioned capacity instead of on-demand (PAY_PER_REQUEST).
    /// Default false: on-demand, which costs nothing while idle (Orleans' providers default to provisioned).
    /// An existing table's capacity is never changed.
    /// </summary>
    public bool UseProvisionedThroughput { get; set; }

    /// <summary>Read capacity units of a created table (and its indexes) when <see cref="UseProvisionedThroughput"/>. Default 10, as in Orleans.</summary>
    public int ReadCapacityUnits { get; set; } = 10;

    /// <summary>Write capacity units of a created table (and its indexes) when <see cref="UseProvisionedThroughput"/>. Default 5, as in Orleans.</summary>
    public int WriteCapacityUnits { get; set; } = 5;

    /// <summary>Timeout of one HTTP request to DynamoDB. Default 10 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of the AWS SDK for a throttled or failed request (the SDK backs off between them). Default 3.</summary>
    public int MaxErrorRetry { get; set; } = 3;

    /// <summary>How long start-up waits for a table (and its indexes) to become ACTIVE. Default 2 min.</summary>
    public TimeSpan TableReadyTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Name of the provider's table.</summary>
    public abstract string TableName { get; set; }

    /// <summary>True when <see cref="Service"/> is an http(s) URL rather than a region name.</summary>
    public bool IsUrl => TryGetUrl(Service, out _);

    /// <summary>Where requests go, for messages: the URL, or "region us-east-1".</summary>
    public string Where => IsUrl ? Service : $"region {Service}";

    /// <summary>
    /// Every problem of these settings, each a sentence that names the setting as
    /// "<paramref name="sectionName"/>:Setting" and says what to set. Empty when they are valid.
    /// </summary>
    public virtual IReadOnlyList<string> Validate(string sectionName)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Service))
        {
            problems.Add($"{sectionName}:Service is not set: give an AWS region name (e.g. us-east-1) or the http(s) URL of a DynamoDB endpoint (e.g. http://localhost:8000 for DynamoDB Local).");
        }
        else if (Service.Contains("://", StringComparison.Ordinal))
        {
            if (!TryGetUrl(Service, out _)) problems.Add($"{sectionName}:Service '{Service}' is not a valid http(s) URL (e.g. http://localhost:8000).");
        }
        else if (!RegionName().IsMatch(Service))
        {
            problems.Add($"{sectionName}:Service '{Service}' is neither an AWS region name (e.g. us-east-1, eu-west-2) nor an http(s) URL.");
        }

        if (string.IsNullOrEmpty(AccessKey) != string.IsNullOrEmpty(SecretKey))
            problems.Add($"{sectionName}:AccessKey and {sectionName}:SecretKey go together: set both, or neither to use the default AWS credential chain.");
        if (!IsTableName(TableName))
            problems.Add($"{sectionName}:TableName '{TableName}' is not a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, '_', '-', '.').");
        if (UseProvisionedThroughput && ReadCapacityUnits < 1)
            problems.Add($"{sectionName}:ReadCapacityUnits must be at least 1 with UseProvisionedThroughput.");
        if (UseProvisionedThroughput && WriteCapacityUnits < 1)
            problems.Add($"{sectionName}:WriteCapacityUnits must be at least 1 with UseProvisionedThroughput.");
        if (RequestTimeout <= TimeSpan.Zero) problems.Add($"{sectionName}:RequestTimeout must be positive.");
        if (MaxErrorRetry < 0) problems.Add($"{sectionName}:MaxErrorRetry must be 0 or more.");
        if (TableReadyTimeout <= TimeSpan.Zero) problems.Add($"{sectionName}:TableReadyTimeout must be positive.");
        return problems;
    }

    /// <summary>
    /// A client for <see cref="Service"/>: a URL becomes the ServiceURL (signed for us-east-1), a region name
    /// its regional endpoint. Throws an <see cref="ArgumentException"/> listing the problems of invalid settings.
    /// </summary>
    public AmazonDynamoDBClient CreateClient()
    {
        var problems = Validate(GetType().Name);
        if (problems.Count > 0) throw new ArgumentException(string.Join(" ", problems));

        var config = new AmazonDynamoDBConfig
        {
            Timeout = RequestTimeout,
            MaxErrorRetry = MaxErrorRetry,
        };
        AWSCredentials? credentials = string.IsNullOrEmpty(AccessKey) ? null : new BasicAWSCredentials(AccessKey, SecretKey);
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

    /// <summary>Whether <paramref name="name"/> is a valid DynamoDB table name.</summary>
    public static bool IsTableName(string? name) => !string.IsNullOrEmpty(name) && TableNamePattern().IsMatch(name);

    private static bool TryGetUrl(string service, out Uri url)
    {
        if (Uri.TryCreate(service, UriKind.Absolute, out var parsed)
            && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps)
            && parsed.Host.Length > 0)
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
