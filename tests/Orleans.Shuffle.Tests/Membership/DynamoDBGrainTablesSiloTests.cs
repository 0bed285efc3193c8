using Amazon.DynamoDBv2.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Shuffle.GrainDirectory;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Persistence;
using Orleans.Shuffle.Silo.Hosting;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Silo.Runtime;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>Which grain directory and grain storage the membership provider brings, and their settings; no DynamoDB needed.</summary>
public sealed class GrainTablesConfigurationTests
{
    private static SiloConfiguration Load(params string[] args) =>
        SiloConfiguration.Load(new ConfigurationBuilder()
            .AddCommandLine(["--disk", Path.Combine(Path.GetTempPath(), "oshuffle-unused-disk"), .. args], SiloConfiguration.SwitchMappings.ToDictionary())
            .Build());

    [Fact]
    public void The_file_provider_keeps_the_embedded_directory_and_storage()
    {
        var config = Load("--cluster-id", "c1");
        Assert.IsType<FileGrainDirectory>(config.Membership.CreateGrainDirectory("c1"));
        Assert.IsType<FileGrainStorage>(config.Membership.CreateGrainStorage("c1"));
    }

    [Fact]
    public void The_DynamoDB_provider_brings_DynamoDB_tables_with_documented_defaults()
    {
        var config = Load("--cluster-id", "c1", "--membership", "dynamodb", "--dynamodb-service", "http://127.0.0.1:8000");
        using var directory = Assert.IsType<DynamoDBGrainDirectory>(config.Membership.CreateGrainDirectory("c1"));
        using var storage = Assert.IsType<DynamoDBGrainStorage>(config.Membership.CreateGrainStorage("c1"));
        Assert.Equal("OrleansShuffleGrainDirectory", directory.TableName);
        Assert.Equal("OrleansShuffleGrainState", storage.TableName);
        Assert.Equal("c1", directory.ClusterId);
        Assert.Equal("c1", storage.ClusterId);

        var options = new DynamoDBGrainStorageOptions();
        Assert.Equal(350 * 1024, options.ChunkSize);
        Assert.Equal(TimeSpan.FromDays(30), options.TimeToLive);
        Assert.Equal("ExpiresAt", options.TimeToLiveAttribute);
        Assert.False(options.DeleteStateOnClear);
        Assert.Empty(options.Validate());
        Assert.Empty(new DynamoDBGrainDirectoryOptions().Validate());
    }

    [Fact]
    public void Table_names_and_storage_settings_are_configurable()
    {
        var config = Load("--membership", "dynamodb", "--dynamodb-service", "us-east-1",
            "--Membership:DynamoDB:GrainDirectory:TableName=MyDirectory",
            "--Membership:DynamoDB:GrainStorage:TableName=MyState",
            "--Membership:DynamoDB:GrainStorage:ChunkSize=100000",
            "--Membership:DynamoDB:GrainStorage:TimeToLive=2.00:00:00",
            "--Membership:DynamoDB:GrainStorage:DeleteStateOnClear=true");
        var dynamo = config.Membership.DynamoDB;
        Assert.Equal("MyDirectory", dynamo.GrainDirectory.TableName);
        Assert.Equal("MyState", dynamo.GrainStorage.TableName);
        Assert.Equal(100000, dynamo.GrainStorage.ChunkSize);
        Assert.Equal(TimeSpan.FromDays(2), dynamo.GrainStorage.TimeToLive);
        Assert.True(dynamo.GrainStorage.DeleteStateOnClear);
    }

    [Fact]
    public void Bad_grain_table_settings_are_refused_at_start_up_with_the_setting_named()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => Load("--membership", "dynamodb", "--dynamodb-service", "us-east-1",
            "--Membership:DynamoDB:GrainStorage:ChunkSize=500000",
            "--Membership:DynamoDB:GrainStorage:TimeToLive=-1.00:00:00",
            "--Membership:DynamoDB:GrainStorage:MaxStateSize=0",
            "--Membership:DynamoDB:GrainDirectory:TableName=x"));
        Assert.Contains(e.Failures, f => f.StartsWith("Membership:DynamoDB:GrainStorage:ChunkSize 500000", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("Membership:DynamoDB:GrainStorage:TimeToLive", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("Membership:DynamoDB:GrainStorage:MaxStateSize", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("Membership:DynamoDB:GrainDirectory:TableName 'x'", StringComparison.Ordinal));

        e = Assert.Throws<SiloConfigurationException>(() => Load("--membership", "dynamodb", "--dynamodb-service", "us-east-1",
            "--Membership:DynamoDB:GrainStorage:TableName=OrleansShuffleSilos"));
        Assert.Contains("three different tables", Assert.Single(e.Failures));

        e = Assert.Throws<SiloConfigurationException>(() => Load("--membership", "dynamodb", "--dynamodb-service", "us-east-1",
            "--Membership:DynamoDB:GrainStorage:TimeToLiveAttribute=ETag"));
        Assert.Contains("TimeToLiveAttribute 'ETag'", Assert.Single(e.Failures));
    }

    [Fact]
    public void The_file_provider_ignores_the_DynamoDB_grain_settings()
    {
        var config = Load("--Membership:DynamoDB:GrainStorage:ChunkSize=1");
        Assert.IsType<FileGrainStorage>(config.Membership.CreateGrainStorage("dev"));
    }
}

/// <summary>A silo on DynamoDB membership keeps its grain directory and ShuffleGrain state in DynamoDB too.</summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBGrainTablesSiloTests(DynamoDbLocalFixture dynamo) : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _temp = new("oshuffle-dynamodb-grains");
    private readonly string _clusterId = "ddb-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose() => _temp.Dispose();

    private WebApplication Build(string silos, string directoryTable, string stateTable, params string[] extra) => SiloHost.Build(
    [
        "--cluster-id", _clusterId,
        "--name", "s1",
        "--port", "0",
        "--http-port", "0",
        "--disk", _temp.Combine("s1", "disk"),
        "--membership-file", _temp.Combine("membership.json"),
        "--membership", "dynamodb",
        "--dynamodb-service", dynamo.ServiceUrl,
        "--Membership:DynamoDB:TableName=" + silos,
        "--Membership:DynamoDB:GrainDirectory:TableName=" + directoryTable,
        "--Membership:DynamoDB:GrainStorage:TableName=" + stateTable,
        "--Logging:LogLevel:Default=Warning",
        "--hostBuilder:reloadConfigOnChange=false",
        .. extra,
    ]);

    [Fact]
    public async Task A_silo_whose_grain_tables_are_missing_and_may_not_be_created_fails_to_start_saying_so()
    {
        string directoryTable = DynamoDbLocalFixture.UniqueTableName("directory");
        var app = Build(DynamoDbLocalFixture.UniqueTableName("silos"), directoryTable, DynamoDbLocalFixture.UniqueTableName("state"),
            "--Membership:DynamoDB:CreateIfNotExists=false", "--Logging:LogLevel:Microsoft.Extensions.Hosting=None");
        try
        {
            using var timeout = new CancellationTokenSource(StartTimeout);
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync(timeout.Token));
            Assert.Contains($"The DynamoDB grain directory table '{directoryTable}' does not exist", e.Message);
            Assert.Contains("Membership:DynamoDB:GrainDirectory:TableName", e.Message);
            Assert.NotEqual(Orleans.Shuffle.Membership.SiloStatus.Active, app.Services.GetRequiredService<LocalSilo>().Status);
        }
        finally
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await app.StopAsync(timeout.Token);
            }
            finally
            {
                await app.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_silo_creates_the_grain_tables_at_start_and_registers_and_stores_its_grains_there()
    {
        string silos = DynamoDbLocalFixture.UniqueTableName("silos");
        string directoryTable = DynamoDbLocalFixture.UniqueTableName("directory");
        string stateTable = DynamoDbLocalFixture.UniqueTableName("state");
        var app = Build(silos, directoryTable, stateTable);
        using var raw = dynamo.CreateClient();
        try
        {
            Assert.IsType<DynamoDBGrainDirectory>(app.Services.GetRequiredService<IGrainDirectory>());
            Assert.IsType<DynamoDBGrainStorage>(app.Services.GetRequiredService<IGrainStorage>());
            using (var timeout = new CancellationTokenSource(StartTimeout))
                await app.StartAsync(timeout.Token);
            await app.Services.GetRequiredService<MembershipAgent>().Joined.WaitAsync(StartTimeout);

            // Created at start-up, before any grain was used.
            foreach (string table in new[] { directoryTable, stateTable })
                Assert.Equal("ACTIVE", (await raw.DescribeTableAsync(new DescribeTableRequest { TableName = table })).Table.TableStatus.Value);

            const string AppId = "app-ddb-1";
            var route = await app.Services.GetRequiredService<ShuffleGrainLocator>().ResolveAsync(AppId, forwarded: false);
            Assert.NotNull(route.Local);
            await route.Local.RegisterApplicationAsync(CancellationToken.None);

            var options = dynamo.Options(silos);
            options.GrainDirectory.TableName = directoryTable;
            options.GrainStorage.TableName = stateTable;
            using var directory = new DynamoDBGrainDirectory(options, _clusterId);
            using var storage = new DynamoDBGrainStorage(options, _clusterId);
            var registration = await directory.Lookup(AppId);
            Assert.Equal(app.Services.GetRequiredService<LocalSilo>().Address.Identity, registration?.SiloIdentity);
            Assert.NotNull(await storage.ReadStateAsync(ShuffleGrain.GrainType, AppId));
        }
        finally
        {
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
            {
                try
                {
                    await app.StopAsync(timeout.Token);
                }
                finally
                {
                    await app.DisposeAsync();
                }
            }
            foreach (string table in new[] { silos, directoryTable, stateTable })
            {
                try
                {
                    await raw.DeleteTableAsync(new DeleteTableRequest { TableName = table });
                }
                catch (ResourceNotFoundException)
                {
                }
            }
        }
    }
}
