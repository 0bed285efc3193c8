using Amazon;
using Orleans.Shuffle.AWSUtils;
using Orleans.Shuffle.Clustering.DynamoDB;
using Orleans.Shuffle.Clustering.File;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Persistence.DynamoDB;
using Orleans.Shuffle.Persistence.File;
using Orleans.Shuffle.Reminders.DynamoDB;
using Orleans.Shuffle.Reminders.File;

namespace Orleans.Shuffle.Providers.Tests.Hosting;

/// <summary>The providers' options: documented defaults, every problem named with what to set, DynamoDB clients. No DynamoDB needed.</summary>
public sealed class ProviderOptionsTests
{
    [Fact]
    public void Defaults_are_the_documented_ones_and_the_table_names_Orleans_ones()
    {
        var clustering = new DynamoDBClusteringOptions();
        Assert.Equal(("OrleansSilos", "", true, false, 10, 5), (clustering.TableName, clustering.Service, clustering.CreateIfNotExists, clustering.UseProvisionedThroughput, clustering.ReadCapacityUnits, clustering.WriteCapacityUnits));
        Assert.Equal((TimeSpan.FromSeconds(10), 3, TimeSpan.FromMinutes(2)), (clustering.RequestTimeout, clustering.MaxErrorRetry, clustering.TableReadyTimeout));
        Assert.Null(clustering.AccessKey);
        Assert.Null(clustering.SecretKey);

        var storage = new DynamoDBGrainStorageOptions();
        Assert.Equal(("OrleansGrainState", TimeSpan.FromDays(30), false, 350 * 1024, 64 * 1024 * 1024), (storage.TableName, storage.TimeToLive, storage.DeleteStateOnClear, storage.ChunkSize, storage.MaxStateSize));
        Assert.Equal("OrleansReminders", new DynamoDBReminderTableOptions().TableName);

        foreach (FileStoreOptions file in new FileStoreOptions[] { new FileClusteringOptions(), new FileGrainStorageOptions(), new FileReminderTableOptions() })
        {
            Assert.Null(file.Directory);
            Assert.Equal(TimeSpan.FromSeconds(30), file.LockTimeout);
            Assert.Empty(file.Validate("File"));
        }
        Assert.False(new FileGrainStorageOptions().DeleteStateOnClear);

        // Only Service is missing.
        Assert.Equal("DynamoDBClustering:Service is not set: give an AWS region name (e.g. us-east-1) or the http(s) URL of a DynamoDB endpoint (e.g. http://localhost:8000 for DynamoDB Local).",
            Assert.Single(clustering.Validate("DynamoDBClustering")));
    }

    [Theory]
    [InlineData("us-east-1")]
    [InlineData("eu-west-2")]
    [InlineData("us-gov-west-1")]
    [InlineData("http://localhost:8000")]
    [InlineData("https://dynamodb.us-east-1.amazonaws.com")]
    public void Region_names_and_urls_are_accepted(string service) =>
        Assert.Empty(new DynamoDBReminderTableOptions { Service = service }.Validate("R"));

    [Theory]
    [InlineData("useast", "R:Service 'useast' is neither an AWS region name")]
    [InlineData("ftp://example", "R:Service 'ftp://example' is not a valid http(s) URL")]
    [InlineData("http://", "R:Service 'http://' is not a valid http(s) URL")]
    public void Bad_services_are_explained(string service, string expected) =>
        Assert.StartsWith(expected, Assert.Single(new DynamoDBReminderTableOptions { Service = service }.Validate("R")));

    [Fact]
    public void Every_other_problem_is_listed_at_once()
    {
        var problems = new DynamoDBGrainStorageOptions
        {
            Service = "us-east-1",
            AccessKey = "AKIA",
            TableName = "a",
            UseProvisionedThroughput = true,
            ReadCapacityUnits = 0,
            WriteCapacityUnits = 0,
            RequestTimeout = TimeSpan.Zero,
            MaxErrorRetry = -1,
            TableReadyTimeout = TimeSpan.Zero,
            TimeToLive = TimeSpan.Zero,
            ChunkSize = 500 * 1024,
            MaxStateSize = 0,
        }.Validate("S");
        string[] expected =
        [
            "S:AccessKey and S:SecretKey go together",
            "S:TableName 'a' is not a DynamoDB table name",
            "S:ReadCapacityUnits must be at least 1",
            "S:WriteCapacityUnits must be at least 1",
            "S:RequestTimeout must be positive",
            "S:MaxErrorRetry must be 0 or more",
            "S:TableReadyTimeout must be positive",
            "S:TimeToLive must be positive, or null",
            "S:ChunkSize 512000 must be between 1024 and 399360",
            "S:MaxStateSize must be positive",
        ];
        Assert.Equal(expected.Length, problems.Count);
        foreach (var (prefix, problem) in expected.Zip(problems)) Assert.StartsWith(prefix, problem);
        Assert.Empty(new DynamoDBGrainStorageOptions { Service = "us-east-1", TimeToLive = null }.Validate("S"));

        var file = new FileClusteringOptions { Directory = " ", LockTimeout = TimeSpan.Zero }.Validate("F");
        Assert.Equal(2, file.Count);
        Assert.StartsWith("F:Directory is blank", file[0]);
        Assert.StartsWith("F:LockTimeout must be positive", file[1]);
    }

    [Fact]
    public void A_url_becomes_the_service_url_and_a_name_the_region()
    {
        using (var local = new DynamoDBClusteringOptions { Service = "http://127.0.0.1:8000" }.CreateClient())
        {
            Assert.StartsWith("http://127.0.0.1:8000", local.Config.ServiceURL);
            Assert.Equal(DynamoDBClientOptions.UrlAuthenticationRegion, local.Config.AuthenticationRegion);
        }
        using var regional = new DynamoDBClusteringOptions { Service = "eu-west-2", AccessKey = "a", SecretKey = "b", RequestTimeout = TimeSpan.FromSeconds(4), MaxErrorRetry = 1 }.CreateClient();
        Assert.Equal(RegionEndpoint.EUWest2, regional.Config.RegionEndpoint);
        Assert.Equal((TimeSpan.FromSeconds(4), 1), (regional.Config.Timeout, regional.Config.MaxErrorRetry));
        var e = Assert.Throws<ArgumentException>(() => new DynamoDBClusteringOptions().CreateClient());
        Assert.StartsWith("DynamoDBClusteringOptions:Service is not set", e.Message);
    }
}
