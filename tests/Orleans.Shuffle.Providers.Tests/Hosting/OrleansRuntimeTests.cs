using Amazon.DynamoDBv2.Model;
using Orleans.Runtime;
using Orleans.Shuffle.Clustering.File;
using Orleans.Shuffle.Providers.Tests.Infrastructure;
using Orleans.Shuffle.Reminders.File;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Hosting;

/// <summary>
/// The providers under the real Orleans runtime: silos form a cluster on the membership table, a client
/// finds them through the gateway list, a grain keeps its state in grain storage and a reminder in the
/// reminder table, and the cluster outlives the silo the grain was on.
/// </summary>
public sealed class FileProvidersRuntimeTests : IDisposable
{
    private readonly TempDirectory _directory = new("oshuffle-runtime");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Silos_on_the_File_providers_form_a_cluster_that_outlives_the_silo_a_grain_was_on()
    {
        string dir = _directory.Path;
        await using var cluster = new LocalCluster(
            silo => silo.UseFileClustering(o => o.Directory = dir).AddFileGrainStorageAsDefault(o => o.Directory = dir).UseFileReminderService(o => o.Directory = dir),
            client => client.UseFileClustering(o => o.Directory = dir));
        var first = await cluster.StartSiloAsync();
        var second = await cluster.StartSiloAsync();
        await cluster.StartClientAsync();

        var grain = cluster.Client.GetGrain<ICounterGrain>("counter-1");
        Assert.Equal(1, await grain.Increment());
        Assert.Equal(2, await grain.Increment());
        await grain.RegisterReminder("tick");

        var membership = new FileMembershipTable(new FileClusteringOptions { Directory = dir }, cluster.ClusterId);
        var rows = (await membership.ReadAllAsync()).Members.Select(m => m.Item1).ToList();
        Assert.Equal([SiloStatus.Active, SiloStatus.Active], rows.Select(r => r.Status));
        Assert.Equal(new[] { first, second }.Select(LocalCluster.AddressOf).ToHashSet(), rows.Select(r => r.SiloAddress).ToHashSet());
        var reminders = new FileReminderTable(new FileReminderTableOptions { Directory = dir }, cluster.ClusterId, cluster.ServiceId);
        Assert.Equal("tick", Assert.Single((await reminders.ReadRows(grain.GetGrainId(), CancellationToken.None)).Reminders).ReminderName);

        // The silo the grain is on leaves; the grain activates on the other and reads its state back.
        var host = await grain.Silo();
        var leaving = cluster.Silos.Single(s => LocalCluster.AddressOf(s).Equals(host));
        await cluster.StopSiloAsync(leaving);
        Assert.Equal(2, await grain.Get());
        Assert.NotEqual(host, await grain.Silo());
        Assert.Equal(3, await grain.Increment());
        Assert.Equal(SiloStatus.Dead, (await membership.ReadRowAsync(host)).Members.Single().Item1.Status);
    }
}

/// <summary>The same on the DynamoDB providers and DynamoDB Local, with a look at the tables Orleans filled.</summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBProvidersRuntimeTests(DynamoDbLocalFixture dynamo) : IAsyncLifetime
{
    private readonly DynamoDbTestTables _tables = new(dynamo, "runtime-silos");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _tables.DisposeAsync();

    [Fact]
    public async Task A_silo_on_the_DynamoDB_providers_serves_a_client_that_finds_it_in_the_table()
    {
        string silos = _tables.TableName, states = _tables.OtherTable("runtime-state"), reminders = _tables.OtherTable("runtime-reminders");
        await using var cluster = new LocalCluster(
            silo => silo
                .UseDynamoDBClustering(o => dynamo.Configure(o, silos))
                .AddDynamoDBGrainStorageAsDefault(o => dynamo.Configure(o, states))
                .UseDynamoDBReminderService(o => dynamo.Configure(o, reminders)),
            client => client.UseDynamoDBClustering(o => dynamo.Configure(o, silos)));
        var silo = await cluster.StartSiloAsync();
        await cluster.StartClientAsync();

        var grain = cluster.Client.GetGrain<ICounterGrain>("counter-1");
        Assert.Equal(1, await grain.Increment());
        Assert.Equal(2, await grain.Increment());
        await grain.RegisterReminder("tick");

        var address = LocalCluster.AddressOf(silo);
        var row = await ItemAsync(silos, new() { ["DeploymentId"] = new() { S = cluster.ClusterId }, ["SiloIdentity"] = new() { S = $"127.0.0.1-{address.Endpoint.Port}-{address.Generation}" } });
        Assert.Equal("3", row["SiloStatus"].N);
        var state = await ItemAsync(states, new() { ["GrainReference"] = new() { S = $"{cluster.ServiceId}_{grain.GetGrainId()}" }, ["GrainType"] = new() { S = "counter" } });
        Assert.Equal("1", state["ETag"].N);
        var reminder = await ItemAsync(reminders, new()
        {
            ["ReminderId"] = new() { S = $"{cluster.ServiceId}_{grain.GetGrainId()}_tick" },
            ["GrainHash"] = new() { N = grain.GetGrainId().GetUniformHashCode().ToString() },
        });
        Assert.Equal("01:00:00", reminder["Period"].S);

        await cluster.StopSiloAsync(silo);
        Assert.Equal("6", (await ItemAsync(silos, row.Where(a => a.Key is "DeploymentId" or "SiloIdentity").ToDictionary()))["SiloStatus"].N);
    }

    private async Task<Dictionary<string, AttributeValue>> ItemAsync(string table, Dictionary<string, AttributeValue> key)
    {
        var response = await _tables.Raw.GetItemAsync(new GetItemRequest { TableName = table, Key = key, ConsistentRead = true });
        Assert.True(response.Item is { Count: > 0 }, $"no item {string.Join(", ", key.Values.Select(v => v.S ?? v.N))} in {table}");
        return response.Item;
    }
}
