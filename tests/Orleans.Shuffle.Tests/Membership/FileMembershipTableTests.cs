using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Membership;

public sealed class FileMembershipTableTests : MembershipTableTestsBase
{
    private readonly TempDirectory _temp = new("oshuffle-membership");

    private string FilePath => _temp.Combine("membership.json");

    protected override IMembershipTable CreateTable(string clusterId) => new FileMembershipTable(FilePath, clusterId);

    protected override IMembershipTable OpenSameTable(string clusterId) => new FileMembershipTable(FilePath, clusterId);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task The_file_survives_a_new_table_object()
    {
        var entry = NewEntry(SiloStatus.Active);
        Assert.True(await Table.InsertRow(entry, (await Table.ReadAll()).Version.Next()));
        var reopened = new FileMembershipTable(FilePath, ClusterId);
        var row = Assert.Single((await reopened.ReadAll()).Members);
        Assert.Equal(entry.SiloAddress, row.Entry.SiloAddress);
        Assert.Equal(entry.IAmAliveTime, row.Entry.IAmAliveTime);
    }

    [Fact]
    public async Task A_file_of_another_cluster_is_refused()
    {
        Assert.True(await Table.InsertRow(NewEntry(), (await Table.ReadAll()).Version.Next()));
        var other = new FileMembershipTable(FilePath, ClusterId + "-other");
        await Assert.ThrowsAsync<InvalidDataException>(() => other.ReadAll());
    }
}
