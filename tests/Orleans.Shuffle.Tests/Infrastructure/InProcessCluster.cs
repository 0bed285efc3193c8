using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Silo.Hosting;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Silo.Networking;
using LocalSilo = Orleans.Shuffle.Silo.Runtime.LocalSilo;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Tests that start silos run one at a time: on two cores they would only slow each other down.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SiloCollection
{
    public const string Name = "Silos";
}

/// <summary>One in-process silo: its web application and the services tests look at.</summary>
public sealed class SiloHandle(string name, string disk, WebApplication app)
{
    public string Name { get; } = name;

    public string Disk { get; } = disk;

    public WebApplication App { get; } = app;

    public bool Running { get; internal set; } = true;

    public LocalSilo Local => App.Services.GetRequiredService<LocalSilo>();

    public PartitionCatalog Partitions => App.Services.GetRequiredService<PartitionCatalog>();

    public ClusterMembership Membership => App.Services.GetRequiredService<ClusterMembership>();

    public ShuffleGrainCatalog Grains => App.Services.GetRequiredService<ShuffleGrainCatalog>();

    public string Host => Local.Address.Host;

    public int Port => Local.Address.Port;

    public string GridEndpoint => Local.Address.Endpoint;

    public int HttpPort => Local.HttpPort;

    /// <summary>Partition files on this silo's disk.</summary>
    public IReadOnlyList<string> DataFiles() =>
        Directory.Exists(Disk) ? Directory.GetFiles(Disk, "*.data", SearchOption.AllDirectories) : [];
}

/// <summary>
/// A grid of silos in this process, on loopback with ports chosen by the OS, each with its own disk
/// directory, sharing one membership file of a cluster id unique to the test. Disposing stops the
/// silos and the clients it made and deletes the directory.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _temp;
    private readonly List<SiloHandle> _silos = [];
    private readonly List<GridClient> _clients = [];
    private readonly string[] _extraArgs;
    private readonly int _slotsPerSilo;

    private InProcessCluster(string clusterId, int slotsPerSilo, string[] extraArgs)
    {
        ClusterId = clusterId;
        _slotsPerSilo = slotsPerSilo;
        _extraArgs = extraArgs;
        _temp = new TempDirectory("oshuffle-cluster");
        MembershipFile = _temp.Combine("membership.json");
    }

    public string ClusterId { get; }

    public string MembershipFile { get; }

    public int SlotsPerSilo => _slotsPerSilo;

    public IReadOnlyList<SiloHandle> Silos => _silos;

    public IEnumerable<SiloHandle> Running => _silos.Where(s => s.Running);

    public static async Task<InProcessCluster> StartAsync(
        int silos, int slotsPerSilo = 64, IEnumerable<string>? extraArgs = null, [CallerMemberName] string test = "")
    {
        string prefix = new(test.Where(char.IsAsciiLetterOrDigit).Take(40).ToArray());
        var cluster = new InProcessCluster($"t{prefix}-{Guid.NewGuid():N}", slotsPerSilo, extraArgs?.ToArray() ?? []);
        try
        {
            for (int i = 0; i < silos; i++) await cluster.AddSiloAsync();
            await cluster.WaitForConvergenceAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more silo and waits until it is Active.</summary>
    public async Task<SiloHandle> AddSiloAsync()
    {
        string name = $"s{_silos.Count + 1}";
        string disk = _temp.Combine(name, "disk");
        string[] args =
        [
            "--cluster-id", ClusterId,
            "--name", name,
            "--port", "0",
            "--http-port", "0",
            "--disk", disk,
            "--membership-file", MembershipFile,
            "--slots", _slotsPerSilo.ToString(),
            "--Membership:TableRefreshPeriod=00:00:00.200",
            "--Logging:LogLevel:Default=Warning",
            "--hostBuilder:reloadConfigOnChange=false",
            .. _extraArgs,
        ];
        var app = SiloHost.Build(args);
        var handle = new SiloHandle(name, disk, app);
        _silos.Add(handle);
        using var timeout = new CancellationTokenSource(StartTimeout);
        await app.StartAsync(timeout.Token);
        await app.Services.GetRequiredService<MembershipAgent>().Joined.WaitAsync(StartTimeout);
        Assert.Equal(SiloStatus.Active, handle.Local.Status);
        return handle;
    }

    /// <summary>Waits until every running silo's view lists exactly the running silos as Active.</summary>
    public async Task WaitForConvergenceAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        // Bounded by the deadline.
        while (true)
        {
            var expected = Running.Select(s => s.Local.Address.Identity).Order().ToList();
            bool converged = Running.All(s => s.Membership.Active.Select(e => e.SiloAddress.Identity).Order().SequenceEqual(expected));
            if (converged) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Silos of {ClusterId} did not agree on membership: expected {string.Join(", ", expected)}.");
            await Task.Delay(50);
        }
    }

    /// <summary>A client of the first running silo; disposed with the cluster.</summary>
    public async Task<GridClient> ConnectClientAsync(Action<GridClientOptions>? configure = null)
    {
        var options = new GridClientOptions
        {
            Gateways = [Running.First().GridEndpoint],
            ClientName = "test-client",
            CommitWaitTimeout = TimeSpan.FromSeconds(60),
            RequestTimeout = TimeSpan.FromSeconds(60),
        };
        configure?.Invoke(options);
        var client = await GridClient.ConnectAsync(options);
        _clients.Add(client);
        return client;
    }

    /// <summary>Stops one silo (Kestrel gets <paramref name="timeout"/> to close its connections, then aborts them); returns how long it took.</summary>
    public async Task<TimeSpan> StopSiloAsync(SiloHandle silo, TimeSpan? timeout = null)
    {
        if (!silo.Running) return TimeSpan.Zero;
        silo.Running = false;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        try
        {
            await silo.App.StopAsync(cancel.Token);
        }
        finally
        {
            await silo.App.DisposeAsync();
        }
        return watch.Elapsed;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            try { await client.DisposeAsync(); } catch (Exception) { /* the silos are going anyway */ }
        }
        // Close silo-to-silo connections first: a silo's Kestrel otherwise waits for them until its
        // stop timeout (see SiloLifecycleTests), which would add that timeout to every test.
        foreach (var silo in Running)
        {
            try { await silo.App.Services.GetRequiredService<SiloConnectionPool>().DisposeAsync(); } catch (Exception) { }
        }
        await Task.WhenAll(_silos.ToList().Select(async silo =>
        {
            try { await StopSiloAsync(silo, TimeSpan.FromSeconds(10)); } catch (Exception) { /* keep stopping the others */ }
        }));
        _temp.Dispose();
    }
}
