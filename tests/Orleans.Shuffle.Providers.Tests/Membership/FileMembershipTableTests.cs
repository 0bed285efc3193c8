using System.Net;
using System.Text.Json;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Shuffle.Clustering.File;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Membership;

/// <summary>The conformance suite on the embedded membership file, plus what is particular to it.</summary>
public sealed class FileMembershipTableTests : MembershipTableTestsBase
{
    private readonly TempDirectory _directory = new("oshuffle-membership");

    private FileClusteringOptions Options => new() { Directory = _directory.Path };

    protected override IMembershipTable OpenTable(string clusterId) => new FileMembershipTable(Options, clusterId);

    protected override IGatewayListProvider OpenGatewayListProvider(string clusterId) => new FileGatewayListProvider(Options, clusterId, TimeSpan.FromMinutes(1));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task The_table_is_one_file_in_the_directory_that_a_new_process_reads()
    {
        var entry = NewEntry(SiloStatus.Active);
        await InsertAsync(entry);
        var table = (FileMembershipTable)Table;
        Assert.Equal(_directory.Combine(FileStoreLayout.MembershipFile), table.FilePath);

        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(table.FilePath));
        var row = json.RootElement.GetProperty("Clusters").GetProperty(ClusterId).GetProperty("Rows")[0];
        Assert.Equal(entry.SiloAddress.ToParsableString(), row.GetProperty("SiloAddress").GetString());
        Assert.Equal("Active", row.GetProperty("Status").GetString());
    }

    [Fact]
    public async Task It_keeps_the_fields_that_Orleans_DynamoDB_schema_drops()
    {
        var entry = NewEntry();
        entry.RoleName = "storage";
        entry.UpdateZone = 3;
        entry.FaultZone = 7;
        await InsertAsync(entry);
        var row = Assert.Single((await OpenTable(ClusterId).ReadAllAsync()).Members).Item1;
        Assert.Equal(("storage", 3, 7), (row.RoleName, row.UpdateZone, row.FaultZone));
        Assert.Equal(entry.ToFullString(), row.ToFullString());
    }

    [Fact]
    public async Task Without_a_directory_it_uses_the_cluster_directory_under_the_temp_folder()
    {
        string clusterId = "default-dir-" + Guid.NewGuid().ToString("N")[..8];
        var table = new FileMembershipTable(new FileClusteringOptions(), clusterId);
        string expected = Path.Combine(Path.GetTempPath(), FileStoreLayout.TempFolder, clusterId, FileStoreLayout.MembershipFile);
        try
        {
            Assert.Equal(expected, table.FilePath);
            await table.InitializeMembershipTableAsync(true);
            Assert.True(File.Exists(expected));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(expected)!, recursive: true);
        }
    }

    [Fact]
    public async Task A_file_that_is_not_a_membership_document_is_reported_with_its_path()
    {
        var table = (FileMembershipTable)Table;
        await File.WriteAllTextAsync(table.FilePath, "{ not json");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => table.ReadAllAsync());
        Assert.Contains(table.FilePath, e.Message);
        await File.WriteAllTextAsync(table.FilePath, "{}"); // for DisposeAsync
    }

    [Fact]
    public async Task The_gateway_list_of_a_directory_without_a_cluster_is_empty()
    {
        var provider = new FileGatewayListProvider(new FileClusteringOptions { Directory = _directory.Combine("nothing-here") }, ClusterId, TimeSpan.FromSeconds(30));
        await provider.InitializeGatewayListProviderAsync();
        Assert.Empty(await provider.GetGatewaysAsync());
        Assert.Equal(TimeSpan.FromSeconds(30), provider.MaxStaleness);
        Assert.False(Directory.Exists(_directory.Combine("nothing-here")));
    }

    [Fact]
    public async Task An_IPv6_silo_round_trips_and_is_listed_as_a_gateway()
    {
        var entry = NewEntry(SiloStatus.Active);
        entry.SiloAddress = SiloAddress.New(IPAddress.IPv6Loopback, 11111, 77);
        await InsertAsync(entry);
        AssertSameEntry(entry, Assert.Single((await Table.ReadAllAsync()).Members).Item1);
        Assert.Equal($"gwy.tcp://[::1]:{entry.ProxyPort}/77", Assert.Single(await OpenGatewayListProvider(ClusterId).GetGatewaysAsync()).ToString());
    }
}
