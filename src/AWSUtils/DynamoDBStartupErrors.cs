using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;

namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// Turns what the AWS SDK throws at start-up (unreachable endpoint, wrong region, rejected or missing
/// credentials, no permission) into one sentence that says what went wrong and what to fix.
/// </summary>
public static class DynamoDBStartupErrors
{
    /// <summary>Whether <paramref name="e"/> came from the AWS SDK or the network, rather than from a bug.</summary>
    public static bool IsAwsOrNetworkFailure(Exception e) =>
        e is AmazonServiceException or AmazonClientException or HttpRequestException or SocketException or IOException or TimeoutException or TaskCanceledException;

    /// <summary>Whether the service refused for lack of permission (not for bad credentials).</summary>
    public static bool IsAccessDenied(AmazonServiceException e) =>
        e.ErrorCode is "AccessDeniedException"
        || (e.StatusCode == HttpStatusCode.Forbidden && e.ErrorCode is not ("UnrecognizedClientException" or "InvalidSignatureException"));

    private static bool IsBadCredentials(AmazonServiceException e) =>
        e.ErrorCode is "UnrecognizedClientException" or "InvalidSignatureException" or "MissingAuthenticationToken" or "ExpiredTokenException" or "InvalidClientTokenId";

    /// <summary>What went wrong while <paramref name="stage"/> (e.g. "creating the table") and what to fix, in one message.</summary>
    public static string Explain(Exception e, string stage, DynamoDBClientOptions options, DynamoDBTableDefinition table)
    {
        string where = options.Where;
        string section = table.Section;
        string detail = $"{e.GetType().Name}: {e.Message}";
        if (e is AmazonServiceException service)
        {
            if (IsAccessDenied(service))
            {
                string create = stage == "creating the table"
                    ? $" The table is missing and these credentials may not create it: create '{table.TableName}' ({table.KeyText}) or grant dynamodb:CreateTable."
                    : "";
                return $"DynamoDB at {where} denied access while {stage} ({table.Purpose} table '{table.TableName}').{create} The provider needs dynamodb:DescribeTable, " +
                       $"CreateTable (unless the table exists), {table.Operations} on it. ({detail})";
            }
            if (IsBadCredentials(service))
            {
                return $"DynamoDB at {where} rejected the credentials while {stage}: check {section}:AccessKey/{section}:SecretKey or the default AWS credential chain, " +
                       $"and that {section}:Service names the region the keys belong to. ({detail})";
            }
            if (service.StatusCode != 0 && !string.IsNullOrEmpty(service.ErrorCode))
            {
                return $"DynamoDB at {where} refused a request while {stage} ({table.Purpose} table '{table.TableName}'): {service.ErrorCode}. ({detail})";
            }
        }
        if (e is AmazonClientException && e.Message.Contains("credentials", StringComparison.OrdinalIgnoreCase))
        {
            return $"No AWS credentials for DynamoDB at {where}: set {section}:AccessKey and {section}:SecretKey, or provide credentials to the default AWS chain " +
                   $"(environment variables, profile, container or instance role). ({detail})";
        }
        return $"Could not reach DynamoDB at {where} while {stage} ({table.Purpose} table '{table.TableName}'). Check {section}:Service " +
               $"(an AWS region name such as us-east-1, or the URL of a DynamoDB endpoint such as http://localhost:8000) and that the endpoint is reachable. ({detail}{InnerDetail(e)})";
    }

    private static string InnerDetail(Exception e)
    {
        var inner = e.InnerException;
        // Bounded: the few levels the SDK wraps a socket error in.
        for (int depth = 0; inner is not null && depth < 3; depth++, inner = inner.InnerException)
        {
            if (inner is HttpRequestException or SocketException or IOException) return $"; {inner.GetType().Name}: {inner.Message}";
        }
        return "";
    }
}
