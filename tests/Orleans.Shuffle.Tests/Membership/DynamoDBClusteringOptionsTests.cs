using Amazon;
using Microsoft.Extensions.Configuration;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Silo.Hosting;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>The DynamoDB options and the silo's membership settings; no DynamoDB needed.</summary>
public sealed class DynamoDBClusteringOptionsTests
{
    private static SiloConfiguration Load(params string[] args) =>
        SiloConfiguration.Load(new ConfigurationBuilder()
            .AddCommandLine(["--disk", Path.Combine(Path.GetTempPath(), "oshuffle-unused-disk"), .. args], SiloConfiguration.SwitchMappings.ToDictionary())
            .Build());

    [Fact]
    public void Defaults_are_documented_ones()
    {
        var options = new DynamoDBClusteringOptions();
        Assert.Equal("OrleansShuffleSilos", options.TableName);
        Assert.True(options.CreateIfNotExists);
        Assert.False(options.UseProvisionedThroughput);
        Assert.Equal("", options.Service);
        Assert.Null(options.AccessKey);
        Assert.Null(options.SecretKey);
        // Only Service is missing.
        Assert.Single(options.Validate());
    }

    [Theory]
    [InlineData("us-east-1")]
    [InlineData("eu-west-2")]
    [InlineData("us-gov-west-1")]
    [InlineData("http://localhost:8000")]
    [InlineData("https://dynamodb.us-east-1.amazonaws.com")]
    public void Region_names_and_urls_are_accepted(string service)
    {
        Assert.Empty(new DynamoDBClusteringOptions { Service = service }.Validate());
    }

    [Theory]
    [InlineData("", "Service is not set")]
    [InlineData("useast", "neither an AWS region name")]
    [InlineData("ftp://example", "not a valid http(s) URL")]
    [InlineData("http://", "not a valid http(s) URL")]
    public void Bad_services_are_explained(string service, string expected)
    {
        var failure = Assert.Single(new DynamoDBClusteringOptions { Service = service }.Validate("Membership:DynamoDB"));
        Assert.Contains(expected, failure);
        Assert.StartsWith("Membership:DynamoDB:Service", failure);
    }

    [Fact]
    public void Other_settings_are_checked()
    {
        var failures = new DynamoDBClusteringOptions
        {
            Service = "us-east-1",
            AccessKey = "AKIA",
            TableName = "a",
            UseProvisionedThroughput = true,
            ReadCapacityUnits = 0,
            WriteCapacityUnits = 0,
            RequestTimeout = TimeSpan.Zero,
        }.Validate().ToList();
        Assert.Contains(failures, f => f.Contains("AccessKey and DynamoDB:SecretKey go together"));
        Assert.Contains(failures, f => f.Contains("TableName 'a'"));
        Assert.Contains(failures, f => f.Contains("ReadCapacityUnits"));
        Assert.Contains(failures, f => f.Contains("WriteCapacityUnits"));
        Assert.Contains(failures, f => f.Contains("RequestTimeout"));
    }

    [Fact]
    public void A_url_becomes_the_service_url_and_a_name_the_region()
    {
        using (var local = new DynamoDBClusteringOptions { Service = "http://127.0.0.1:8000" }.CreateClient())
        {
            Assert.StartsWith("http://127.0.0.1:8000", local.Config.ServiceURL);
            Assert.Equal("us-east-1", local.Config.AuthenticationRegion);
        }
        using var regional = new DynamoDBClusteringOptions { Service = "eu-west-2", AccessKey = "a", SecretKey = "b" }.CreateClient();
        Assert.Equal(RegionEndpoint.EUWest2, regional.Config.RegionEndpoint);
        Assert.Throws<ArgumentException>(() => new DynamoDBClusteringOptions().CreateClient());
    }

    [Fact]
    public void The_file_table_stays_the_default()
    {
        var config = Load("--cluster-id", "c1");
        Assert.Equal("File", config.Membership.Provider);
        Assert.False(config.Membership.UsesDynamoDB);
        Assert.IsType<FileMembershipTable>(config.Membership.CreateTable("c1"));
    }

    [Fact]
    public void Switches_select_DynamoDB_and_its_service()
    {
        var config = Load("--membership", "dynamodb", "--dynamodb-service", "http://127.0.0.1:8000", "--Membership:DynamoDB:TableName=MySilos");
        Assert.True(config.Membership.UsesDynamoDB);
        Assert.Equal("http://127.0.0.1:8000", config.Membership.DynamoDB.Service);
        Assert.Equal("MySilos", config.Membership.DynamoDB.TableName);
        Assert.True(config.Membership.DynamoDB.CreateIfNotExists);
        using var table = Assert.IsType<DynamoDBMembershipTable>(config.Membership.CreateTable("c1"));
        Assert.Equal("MySilos", table.TableName);
        Assert.Equal("c1", table.ClusterId);
    }

    [Fact]
    public void DynamoDB_without_a_service_is_refused_at_start_up()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => Load("--membership", "DynamoDB"));
        var failure = Assert.Single(e.Failures);
        Assert.Contains("Membership:DynamoDB:Service", failure);
        Assert.Contains("--dynamodb-service", failure);
    }

    [Fact]
    public void DynamoDB_settings_are_validated_with_the_silo_configuration()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => Load(
            "--membership", "dynamodb", "--dynamodb-service", "nowhere", "--Membership:DynamoDB:AccessKey=AKIA"));
        Assert.Contains(e.Failures, f => f.Contains("Membership:DynamoDB:Service 'nowhere'"));
        Assert.Contains(e.Failures, f => f.Contains("Membership:DynamoDB:SecretKey"));
    }

    [Fact]
    public void An_unknown_provider_names_the_known_ones()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => Load("--membership", "zookeeper"));
        var failure = Assert.Single(e.Failures);
        Assert.Contains("'zookeeper'", failure);
        Assert.Contains("DynamoDB", failure);
    }
}
