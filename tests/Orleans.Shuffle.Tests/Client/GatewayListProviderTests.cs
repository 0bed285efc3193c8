using System.Net;
using System.Net.Sockets;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>A gateway list provider a test scripts: what it lists, whether it fails, how often it was asked. Or a counter around a real one.</summary>
internal sealed class FakeGatewayListProvider(TimeSpan? refreshPeriod = null, IGatewayListProvider? inner = null) : IGatewayListProvider
{
    private volatile IReadOnlyList<string> _gateways = [];
    private volatile Exception? _failure;
    private int _calls;

    public TimeSpan RefreshPeriod { get; } = refreshPeriod ?? inner?.RefreshPeriod ?? TimeSpan.FromHours(1);

    public int Calls => Volatile.Read(ref _calls);

    public void List(params string[] gateways) => _gateways = gateways;

    public void Fail(Exception? failure) => _failure = failure;

    public Task<IReadOnlyList<string>> GetGatewaysAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (_failure is { } failure) return Task.FromException<IReadOnlyList<string>>(failure);
        return inner is not null ? inner.GetGatewaysAsync(cancellationToken) : Task.FromResult(_gateways);
    }
}

/// <summary>GridClientOptions.GatewayListProvider without silos: validation, and what connecting says when the provider has nothing usable.</summary>
public class GatewayListProviderOptionsTests
{
    private static string DeadEndpoint()
    {
        // A loopback port that was free a moment ago: nothing listens there.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }

    [Fact]
    public void Gateways_or_a_provider_is_required()
    {
        var e = Assert.Throws<ArgumentException>(new GridClientOptions().Validate);
        Assert.Contains("GatewayListProvider", e.Message);

        new GridClientOptions { GatewayListProvider = new FakeGatewayListProvider() }.Validate();
        new GridClientOptions { Gateways = null!, GatewayListProvider = new FakeGatewayListProvider() }.Validate();
        new GridClientOptions { Gateways = ["h:1"], GatewayListProvider = new FakeGatewayListProvider() }.Validate();

        e = Assert.Throws<ArgumentException>(new GridClientOptions { GatewayListProvider = new FakeGatewayListProvider(TimeSpan.Zero) }.Validate);
        Assert.Contains("RefreshPeriod", e.Message);
    }

    [Fact]
    public async Task A_failing_provider_and_no_gateways_fail_the_connect_with_the_providers_error()
    {
        var provider = new FakeGatewayListProvider();
        provider.Fail(new InvalidOperationException("the membership table is gone"));
        var e = await Assert.ThrowsAsync<GridException>(() => GridClient.ConnectAsync(new GridClientOptions { GatewayListProvider = provider }));
        Assert.Equal(ErrorCode.SiloUnavailable, e.Code);
        Assert.Contains("the membership table is gone", e.Message);
        Assert.Equal(1, provider.Calls);
    }

    [Fact]
    public async Task A_provider_listing_no_silo_fails_the_connect_saying_so()
    {
        var provider = new FakeGatewayListProvider();
        var e = await Assert.ThrowsAsync<GridException>(() => GridClient.ConnectAsync(new GridClientOptions { GatewayListProvider = provider }));
        Assert.Contains("lists no Active silo", e.Message);

        provider.List("no-port-here");
        e = await Assert.ThrowsAsync<GridException>(() => GridClient.ConnectAsync(new GridClientOptions { GatewayListProvider = provider }));
        Assert.Contains("not of the form host:port", e.Message);
    }

    [Fact]
    public async Task Connecting_asks_the_provider_once_even_when_its_gateways_are_dead()
    {
        var provider = new FakeGatewayListProvider();
        string dead = DeadEndpoint();
        provider.List(dead);
        var e = await Assert.ThrowsAsync<GridException>(() => GridClient.ConnectAsync(new GridClientOptions
        {
            GatewayListProvider = provider,
            ConnectTimeout = TimeSpan.FromSeconds(2),
        }));
        Assert.Equal(ErrorCode.SiloUnavailable, e.Code);
        Assert.Contains(dead, e.Message);
        Assert.Equal(1, provider.Calls);
    }

    [Fact]
    public void The_table_provider_lists_Active_rows_by_address_host_and_proxy_port()
    {
        MembershipRow Row(string host, int port, int proxyPort, SiloStatus status) => new(new MembershipEntry
        {
            SiloAddress = new SiloAddress(host, port, 1),
            Status = status,
            ProxyPort = proxyPort,
        }, "0");

        var data = new MembershipTableData(
        [
            Row("10.0.0.2", 7000, 7000, SiloStatus.Active),
            Row("10.0.0.1", 7000, 7100, SiloStatus.Active),
            Row("::1", 7000, 7000, SiloStatus.Active),
            Row("10.0.0.3", 7000, 7000, SiloStatus.Dead),
            Row("10.0.0.4", 7000, 7000, SiloStatus.Joining),
            Row("10.0.0.5", 7000, 7000, SiloStatus.ShuttingDown),
            Row("10.0.0.6", 7000, 0, SiloStatus.Active),
        ], new TableVersion(1, "1"));
        Assert.Equal(["10.0.0.1:7100", "10.0.0.2:7000", "[::1]:7000"], MembershipTableGatewayListProvider.Gateways(data));
        foreach (string gateway in MembershipTableGatewayListProvider.Gateways(data))
            Assert.True(GatewayEndpoint.TryParse(gateway, out _, out string? error), error);

        Assert.Equal(TimeSpan.FromSeconds(60), new MembershipTableGatewayListProvider(new FileMembershipTable("unused.json", "c")).RefreshPeriod);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MembershipTableGatewayListProvider(new FileMembershipTable("unused.json", "c"), TimeSpan.Zero));
    }
}

/// <summary>A client that finds its gateways through a provider, against in-process silos: connect, periodic refresh, silos replaced.</summary>
[Collection(SiloCollection.Name)]
public class GatewayListProviderClientTests
{
    private static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        // Bounded by the deadline.
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_client_with_only_a_provider_connects_and_shuffles()
    {
        await using var cluster = await InProcessCluster.StartAsync(2);
        var provider = new FakeGatewayListProvider();
        provider.List(cluster.Silos[1].GridEndpoint);
        await using var client = await GridClient.ConnectAsync(new GridClientOptions { GatewayListProvider = provider, ClientName = "provider-only" });
        Assert.Equal(2, client.ClusterView.Active.Count());
        Assert.Equal([cluster.Silos[1].GridEndpoint], client.ListedGateways);
        Assert.Equal(1, provider.Calls);
        await ShuffleData.RunSmallShuffleAsync(client, "app-provider-only");
    }

    [Fact]
    public async Task The_provider_is_asked_every_period_and_the_view_follows_a_joining_silo()
    {
        await using var cluster = await InProcessCluster.StartAsync(1);
        var provider = new FakeGatewayListProvider(TimeSpan.FromMilliseconds(200));
        provider.List(cluster.Silos[0].GridEndpoint);
        await using var client = await GridClient.ConnectAsync(new GridClientOptions { GatewayListProvider = provider });
        Assert.Single(client.ClusterView.Active);

        var joined = await cluster.AddSiloAsync();
        provider.List(cluster.Silos[0].GridEndpoint, joined.GridEndpoint);
        // No request, no explicit refresh: the periodic refresh alone brings the new silo in.
        await WaitUntilAsync(() => client.ClusterView.Active.Count() == 2 && client.ListedGateways.Count == 2,
            $"the client did not see the joining silo (provider asked {provider.Calls} times)");
        Assert.True(provider.Calls >= 2);

        // A failing provider costs nothing but its reads: the last list and the gateways keep working.
        provider.Fail(new IOException("throttled"));
        int calls = provider.Calls;
        await WaitUntilAsync(() => provider.Calls >= calls + 2, "the provider was not asked again");
        Assert.Equal(2, client.ListedGateways.Count);
        Assert.Equal(2, (await client.RefreshClusterViewAsync()).Active.Count());
    }

    [Fact]
    public async Task A_provider_failing_at_connect_leaves_the_configured_gateways()
    {
        await using var cluster = await InProcessCluster.StartAsync(1);
        var provider = new FakeGatewayListProvider();
        provider.Fail(new IOException("no table"));
        await using var client = await GridClient.ConnectAsync(new GridClientOptions { Gateways = [cluster.Silos[0].GridEndpoint], GatewayListProvider = provider });
        Assert.Single(client.ClusterView.Active);
        Assert.Empty(client.ListedGateways);
    }

    [Fact]
    public async Task A_client_reading_the_membership_table_survives_every_silo_it_knew_being_replaced()
    {
        await using var cluster = await InProcessCluster.StartAsync(1);
        var first = cluster.Silos[0];
        // The real provider over the cluster's own (file) table, counted; no periodic read during the test.
        var provider = new FakeGatewayListProvider(TimeSpan.FromHours(1),
            new MembershipTableGatewayListProvider(new FileMembershipTable(cluster.MembershipFile, cluster.ClusterId)));
        await using var client = await GridClient.ConnectAsync(new GridClientOptions
        {
            GatewayListProvider = provider,
            ConnectTimeout = TimeSpan.FromSeconds(2),
        });
        Assert.Equal([first.GridEndpoint], client.ListedGateways);
        var connectedAt = DateTime.UtcNow;

        // A new silo joins (the client is not told), then the only silo the client knows leaves: its
        // row goes Dead, and neither its gateways nor its cluster view name a live silo any more.
        var second = await cluster.AddSiloAsync();
        await cluster.WaitForConvergenceAsync();
        await cluster.StopSiloAsync(first);
        Assert.Single(client.ClusterView.Active);
        var sinceConnect = DateTime.UtcNow - connectedAt;
        if (sinceConnect < ClusterViewProvider.MinFailureListRefreshInterval) await Task.Delay(ClusterViewProvider.MinFailureListRefreshInterval - sinceConnect);

        // Every known gateway fails, so the client reads the table again and finds the new silo.
        var view = await client.RefreshClusterViewAsync();
        Assert.Equal([second.Local.Address.Identity], view.Active.Select(s => s.Identity));
        Assert.Equal([second.GridEndpoint], client.ListedGateways);
        Assert.Equal(2, provider.Calls);
        await ShuffleData.RunSmallShuffleAsync(client, "app-replaced");
    }
}
