using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;
using Orleans.Shuffle.Clustering.DynamoDB;
using Orleans.Shuffle.Clustering.File;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Persistence.DynamoDB;
using Orleans.Shuffle.Persistence.File;
using Orleans.Shuffle.Reminders.DynamoDB;
using Orleans.Shuffle.Reminders.File;
using Orleans.Shuffle.Testing;
using Orleans.Storage;

namespace Orleans.Shuffle.Providers.Tests.Hosting;

/// <summary>
/// What the builder extensions register, in silo and client hosts that are built but not started:
/// the providers Orleans resolves, their options, and validators that stop a host with every problem.
/// </summary>
public sealed class ProviderHostingTests : IDisposable
{
    private readonly TempDirectory _directory = new("oshuffle-hosting");

    public void Dispose() => _directory.Dispose();

    private static IHost Silo(Action<ISiloBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o => { o.ClusterId = "cluster-h"; o.ServiceId = "service-h"; });
            configure(silo);
        });
        return builder.Build();
    }

    private static IHost Client(Action<IClientBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => o.ClusterId = "cluster-h");
            configure(client);
        });
        return builder.Build();
    }

    private static void Validate<TValidator>(IHost host) where TValidator : IConfigurationValidator
    {
        var validators = host.Services.GetServices<IConfigurationValidator>().OfType<TValidator>().ToList();
        Assert.NotEmpty(validators);
        foreach (var validator in validators) validator.ValidateConfiguration();
    }

    [Fact]
    public async Task The_File_providers_share_one_directory_without_colliding()
    {
        using var host = Silo(silo => silo
            .UseFileClustering(o => o.Directory = _directory.Path)
            .AddFileGrainStorageAsDefault(o => o.Directory = _directory.Path)
            .AddFileGrainStorage("other", o => o.Directory = _directory.Path)
            .UseFileReminderService(o => o.Directory = _directory.Path));

        var membership = Assert.IsType<FileMembershipTable>(host.Services.GetRequiredService<IMembershipTable>());
        var reminders = Assert.IsType<FileReminderTable>(host.Services.GetRequiredService<IReminderTable>());
        var storage = Assert.IsType<FileGrainStorage>(host.Services.GetRequiredKeyedService<IGrainStorage>("Default"));
        var other = Assert.IsType<FileGrainStorage>(host.Services.GetRequiredKeyedService<IGrainStorage>("other"));
        Assert.Same(storage, host.Services.GetRequiredService<IGrainStorage>());
        Assert.Equal(("cluster-h", "service-h", "service-h"), (membership.ClusterId, reminders.ServiceId, storage.ServiceId));
        Assert.Equal(_directory.Combine("membership.json"), membership.FilePath);
        Assert.Equal(_directory.Combine("reminders.json"), reminders.FilePath);
        Assert.Equal(_directory.Combine("grain-state"), storage.StateDirectory);
        Validate<FileStoreOptionsValidator<FileClusteringOptions>>(host);
        Validate<FileStoreOptionsValidator<FileGrainStorageOptions>>(host);
        Validate<FileStoreOptionsValidator<FileReminderTableOptions>>(host);

        // Each writes its own files: the silo's serializer reached the storages.
        var grain = GrainId.Create("g", "1");
        await membership.InitializeMembershipTableAsync(true);
        await reminders.UpsertRow(new ReminderEntry { GrainId = grain, ReminderName = "r", Period = TimeSpan.FromMinutes(1) }, CancellationToken.None);
        await storage.WriteStateAsync("s", grain, new GrainState<string> { State = "default" });
        await other.WriteStateAsync("s", grain, new GrainState<string> { State = "other" });
        var read = new GrainState<string>();
        await storage.ReadStateAsync("s", grain, read);
        Assert.Equal("default", read.State);
        Assert.Equal(["grain-state", "membership.json", "membership.json.lock", "reminders.json", "reminders.json.lock"],
            Directory.EnumerateFileSystemEntries(_directory.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(2, Directory.EnumerateFiles(storage.StateDirectory, "*.json").Count());
    }

    [Fact]
    public void Without_a_directory_the_File_providers_use_the_cluster_directory_under_the_temp_folder()
    {
        using var host = Silo(silo => silo.UseFileClustering().AddFileGrainStorageAsDefault().UseFileReminderService());
        string expected = Path.Combine(Path.GetTempPath(), FileStoreLayout.TempFolder, "cluster-h");
        Assert.Equal(Path.Combine(expected, "membership.json"), Assert.IsType<FileMembershipTable>(host.Services.GetRequiredService<IMembershipTable>()).FilePath);
        Assert.Equal(Path.Combine(expected, "reminders.json"), Assert.IsType<FileReminderTable>(host.Services.GetRequiredService<IReminderTable>()).FilePath);
        Assert.Equal(Path.Combine(expected, "grain-state"), Assert.IsType<FileGrainStorage>(host.Services.GetRequiredService<IGrainStorage>()).StateDirectory);
    }

    [Fact]
    public void A_client_finds_its_gateways_in_the_membership_file()
    {
        using var host = Client(client => client.UseFileClustering(o => o.Directory = _directory.Path));
        var gateways = Assert.IsType<FileGatewayListProvider>(host.Services.GetRequiredService<IGatewayListProvider>());
        Assert.Equal(_directory.Combine("membership.json"), gateways.FilePath);
        Assert.Equal(new GatewayOptions().GatewayListRefreshPeriod, gateways.MaxStaleness);
    }

    /// <summary>Starts <paramref name="host"/>, which must stop at once with the error of its invalid options.</summary>
    private static async Task<string> StartFailsAsync(IHost host)
    {
        using (host)
        {
            var e = await Assert.ThrowsAsync<OrleansConfigurationException>(() => host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            return e.Message;
        }
    }

    [Fact]
    public async Task Invalid_File_options_stop_the_silo_at_start_up_naming_each_setting()
    {
        string message = await StartFailsAsync(Silo(silo => silo.UseLocalhostClustering().UseFileReminderService(o => { o.Directory = ""; o.LockTimeout = TimeSpan.Zero; })));
        Assert.Equal("Invalid FileReminderTableOptions (FileReminders): FileReminders:Directory is blank: give a directory, or leave it unset for $TMPDIR/orleans-shuffle/<cluster-id>. " +
                     "FileReminders:LockTimeout must be positive.", message);
        message = await StartFailsAsync(Silo(silo => silo.UseFileClustering(o => o.Directory = _directory.Path).AddFileGrainStorage("files", o => o.LockTimeout = TimeSpan.Zero)));
        Assert.Equal("Invalid FileGrainStorageOptions (FileGrainStorage:files): FileGrainStorage:files:LockTimeout must be positive.", message);
        message = await StartFailsAsync(Silo(silo => silo.UseFileClustering(o => o.LockTimeout = TimeSpan.FromSeconds(-1))));
        Assert.Equal("Invalid FileClusteringOptions (FileClustering): FileClustering:LockTimeout must be positive.", message);
    }

    [Fact]
    public void The_DynamoDB_providers_are_what_Orleans_resolves_with_their_options()
    {
        const string Local = "http://127.0.0.1:8000";
        using var host = Silo(silo => silo
            .UseDynamoDBClustering(o => { o.Service = Local; o.TableName = "MySilos"; })
            .AddDynamoDBGrainStorage("dynamo", o => { o.Service = Local; o.TimeToLive = null; })
            .AddDynamoDBGrainStorageAsDefault(o => o.Service = Local)
            .UseDynamoDBReminderService(o => o.Service = Local));

        var membership = Assert.IsType<DynamoDBMembershipTable>(host.Services.GetRequiredService<IMembershipTable>());
        Assert.Equal(("MySilos", "cluster-h"), (membership.TableName, membership.ClusterId));
        var storage = Assert.IsType<DynamoDBGrainStorage>(host.Services.GetRequiredKeyedService<IGrainStorage>("dynamo"));
        Assert.Equal(("dynamo", "OrleansGrainState", "service-h"), (storage.Name, storage.TableName, storage.ServiceId));
        Assert.IsType<DynamoDBGrainStorage>(host.Services.GetRequiredService<IGrainStorage>());
        Assert.Contains(host.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>(), p => ReferenceEquals(p, storage));
        var reminders = Assert.IsType<DynamoDBReminderTable>(host.Services.GetRequiredService<IReminderTable>());
        Assert.Equal(("OrleansReminders", "service-h"), (reminders.TableName, reminders.ServiceId));
        Validate<DynamoDBOptionsValidator<DynamoDBClusteringOptions>>(host);
        Validate<DynamoDBOptionsValidator<DynamoDBGrainStorageOptions>>(host);
        Validate<DynamoDBOptionsValidator<DynamoDBReminderTableOptions>>(host);

        using var client = Client(c => c.UseDynamoDBClustering(o => o.Service = Local));
        var gateways = Assert.IsType<DynamoDBGatewayListProvider>(client.Services.GetRequiredService<IGatewayListProvider>());
        Assert.Equal("cluster-h", gateways.ClusterId);
    }

    [Fact]
    public async Task Invalid_DynamoDB_options_stop_the_silo_at_start_up_naming_each_setting()
    {
        string message = await StartFailsAsync(Silo(silo => silo.UseDynamoDBClustering(o => o.AccessKey = "AKIA")));
        Assert.StartsWith("Invalid DynamoDBClusteringOptions (DynamoDBClustering): DynamoDBClustering:Service is not set", message);
        Assert.Contains("DynamoDBClustering:AccessKey and DynamoDBClustering:SecretKey go together", message);

        message = await StartFailsAsync(Silo(silo => silo.UseLocalhostClustering().UseDynamoDBReminderService(o => { o.Service = "nowhere"; o.TableName = "x"; })));
        Assert.StartsWith("Invalid DynamoDBReminderTableOptions (DynamoDBReminders): DynamoDBReminders:Service 'nowhere' is neither an AWS region name", message);
        Assert.Contains("DynamoDBReminders:TableName 'x' is not a DynamoDB table name", message);

        message = await StartFailsAsync(Silo(silo => silo.UseLocalhostClustering().AddDynamoDBGrainStorage("dynamo", o => { o.Service = "us-east-1"; o.ChunkSize = 1; })));
        Assert.StartsWith("Invalid DynamoDBGrainStorageOptions (DynamoDBGrainStorage:dynamo): DynamoDBGrainStorage:dynamo:ChunkSize 1 must be between 1024 and 399360 bytes", message);
    }
}
