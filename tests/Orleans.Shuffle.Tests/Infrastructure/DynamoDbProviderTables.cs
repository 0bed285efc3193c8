using System.Net;
using System.Net.Sockets;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.Membership.DynamoDB;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>
/// What the tests of a provider with a DynamoDB table of its own (grain storage, grain directory) share,
/// one per test: the test's table and cluster id, a raw client of the emulator, the providers the test
/// opened, and the start-up errors every such provider must explain. <see cref="DisposeAsync"/> deletes
/// the test's table and disposes what the test opened.
/// </summary>
public sealed class DynamoDbProviderTables(DynamoDbLocalFixture dynamo, string tablePrefix)
{
    private readonly List<IDisposable> _opened = [];

    /// <summary>The test's own table.</summary>
    public string TableName { get; } = DynamoDbLocalFixture.UniqueTableName(tablePrefix);

    /// <summary>The test's own cluster id.</summary>
    public string ClusterId { get; } = "ddb-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>A client of the emulator that goes around the provider, to look at and change items directly.</summary>
    public AmazonDynamoDBClient Raw { get; } = dynamo.CreateClient();

    /// <summary>Options for the emulator whose membership table nobody uses: the caller sets its provider's table.</summary>
    public DynamoDBClusteringOptions Options() => dynamo.Options(DynamoDbLocalFixture.UniqueTableName("unused-silos"));

    /// <summary>Returns <paramref name="provider"/>, to be disposed with the test.</summary>
    public T Track<T>(T provider) where T : IDisposable
    {
        lock (_opened) _opened.Add(provider);
        return provider;
    }

    public async Task DisposeAsync()
    {
        try
        {
            await Raw.DeleteTableAsync(new DeleteTableRequest { TableName = TableName });
        }
        catch (ResourceNotFoundException)
        {
        }
        lock (_opened)
        {
            foreach (var opened in _opened) opened.Dispose();
        }
        Raw.Dispose();
    }

    /// <summary>
    /// Initializes a provider <paramref name="open"/> makes for a table that exists with the membership table's
    /// keys, and returns the start-up error it must fail with. The foreign table is deleted afterwards.
    /// </summary>
    public async Task<InvalidOperationException> InitializeOnForeignTableAsync<T>(Func<string, T> open, Func<T, Task> initialize)
        where T : IDisposable
    {
        string foreign = DynamoDbLocalFixture.UniqueTableName("foreign");
        using (var membership = new DynamoDBMembershipTable(dynamo.Options(foreign), ClusterId))
            await membership.InitializeMembershipTable(tryInitTableVersion: false);
        try
        {
            using var provider = open(foreign);
            return await Assert.ThrowsAsync<InvalidOperationException>(() => initialize(provider));
        }
        finally
        {
            await Raw.DeleteTableAsync(new DeleteTableRequest { TableName = foreign });
        }
    }

    /// <summary>
    /// Initializes a provider <paramref name="open"/> makes for a DynamoDB endpoint nobody listens on, checks that
    /// the start-up error begins "Could not reach DynamoDB at" the endpoint, and returns it.
    /// </summary>
    public static async Task<InvalidOperationException> InitializeUnreachableAsync<T>(Func<DynamoDBClusteringOptions, T> open, Func<T, Task> initialize)
        where T : IDisposable
    {
        string url = UnusedLoopbackUrl();
        var options = new DynamoDBClusteringOptions { Service = url, MaxErrorRetry = 0, RequestTimeout = TimeSpan.FromSeconds(2) };
        using var provider = open(options);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => initialize(provider));
        Assert.StartsWith($"Could not reach DynamoDB at {url}", e.Message);
        return e;
    }

    /// <summary>The URL of a loopback port that was free a moment ago and is closed again.</summary>
    private static string UnusedLoopbackUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }
}
