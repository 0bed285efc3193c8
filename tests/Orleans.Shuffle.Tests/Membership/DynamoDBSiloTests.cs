using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Silo.Hosting;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Tests.Infrastructure;
using LocalSilo = Orleans.Shuffle.Silo.Runtime.LocalSilo;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>Silos on DynamoDB membership: start-up against DynamoDB Local, and a clear failure when DynamoDB is unreachable.</summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBSiloTests(DynamoDbLocalFixture dynamo) : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _temp = new("oshuffle-dynamodb-silo");
    private readonly string _clusterId = "ddb-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose() => _temp.Dispose();

    private string[] SiloArgs(string name, string service, params string[] extra) =>
    [
        "--cluster-id", _clusterId,
        "--name", name,
        "--port", "0",
        "--http-port", "0",
        "--disk", _temp.Combine(name, "disk"),
        // The grain directory stays a file: keep it in this test's directory.
        "--membership-file", _temp.Combine("membership.json"),
        "--membership", "dynamodb",
        "--dynamodb-service", service,
        "--Logging:LogLevel:Default=Warning",
        "--hostBuilder:reloadConfigOnChange=false",
        .. extra,
    ];

    private static string UnreachableUrl()
    {
        // A loopback port that was free a moment ago: nothing listens on it.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }

    [Fact]
    public async Task A_silo_with_an_unreachable_DynamoDB_fails_to_start_with_a_clear_message()
    {
        string url = UnreachableUrl();
        // The host logs the failure with its stack trace; the assertion below reads the message instead.
        var app = SiloHost.Build(SiloArgs("s1", url, "--Logging:LogLevel:Microsoft.Extensions.Hosting=None"));
        try
        {
            Assert.IsType<DynamoDBMembershipTable>(app.Services.GetRequiredService<IMembershipTable>());
            using var timeout = new CancellationTokenSource(StartTimeout);
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync(timeout.Token));
            Assert.Contains($"Could not reach DynamoDB at {url}", e.Message);
            Assert.Contains("Membership:DynamoDB:Service", e.Message);
            Assert.NotEqual(SiloStatus.Active, app.Services.GetRequiredService<LocalSilo>().Status);
        }
        finally
        {
            await StopAsync(app);
        }
    }

    [Fact]
    public async Task The_silo_process_exits_3_with_the_message_when_DynamoDB_is_unreachable()
    {
        Assert.True(File.Exists(RepoPaths.SiloDll), $"{RepoPaths.SiloDll} is not built");
        string url = UnreachableUrl();
        using var silo = ChildProcess.Start(RepoPaths.DotnetExecutable(), [RepoPaths.SiloDll, .. SiloArgs("s1", url)]);
        int? exit = await silo.WaitForExitAsync(StartTimeout);
        Assert.True(exit == 3, $"exit {exit?.ToString() ?? "timeout"}; output:{Environment.NewLine}{silo.Tail()}");
        Assert.Contains(silo.Output, line => line.Contains("The silo could not start: Could not reach DynamoDB at " + url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Silos_with_DynamoDB_membership_become_Active_see_each_other_and_leave_Dead()
    {
        string tableName = DynamoDbLocalFixture.UniqueTableName();
        string[] extra = ["--Membership:DynamoDB:TableName=" + tableName, "--Membership:TableRefreshPeriod=00:00:00.300"];
        var first = SiloHost.Build(SiloArgs("s1", dynamo.ServiceUrl, extra));
        WebApplication? second = null;
        using var table = new DynamoDBMembershipTable(dynamo.Options(tableName), _clusterId);
        try
        {
            await StartAsync(first);
            second = SiloHost.Build(SiloArgs("s2", dynamo.ServiceUrl, extra));
            await StartAsync(second);

            var ids = new[] { first, second }.Select(a => a.Services.GetRequiredService<LocalSilo>().Address.Identity).Order().ToList();
            var data = await table.ReadAll();
            Assert.Equal(ids, data.Members.Where(m => m.Entry.Status == SiloStatus.Active).Select(m => m.Entry.SiloAddress.Identity).Order());
            Assert.All(data.Members, m => Assert.True(m.Entry.HttpPort > 0));

            // Each sees both as Active through its table reads.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!new[] { first, second }.All(a => a.Services.GetRequiredService<ClusterMembership>().Active.Select(e => e.SiloAddress.Identity).Order().SequenceEqual(ids)))
            {
                Assert.True(DateTime.UtcNow < deadline, "the silos did not see each other as Active");
                await Task.Delay(100);
            }

            string leaving = second.Services.GetRequiredService<LocalSilo>().Address.Identity;
            await StopAsync(second);
            second = null;
            var row = (await table.ReadAll()).Members.Single(m => m.Entry.SiloAddress.Identity == leaving);
            Assert.Equal(SiloStatus.Dead, row.Entry.Status);
        }
        finally
        {
            if (second is not null) await StopAsync(second);
            await StopAsync(first);
            await table.DeleteMembershipTableEntries(_clusterId);
        }
    }

    private static async Task StartAsync(WebApplication app)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        await app.StartAsync(timeout.Token);
        await app.Services.GetRequiredService<MembershipAgent>().Joined.WaitAsync(StartTimeout);
        Assert.Equal(SiloStatus.Active, app.Services.GetRequiredService<LocalSilo>().Status);
    }

    private static async Task StopAsync(WebApplication app)
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
