using Orleans.Shuffle.GrainInterfaces;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Persistence.File;
using Orleans.Shuffle.Reminders.File;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Silo.Hosting;
using Orleans.Shuffle.Testing;
using Orleans.TestingHost;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Tests that start silos run one at a time: on two cores they would only slow each other down.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SiloCollection
{
    public const string Name = "Silos";
}

/// <summary>
/// A grid of storage silos in this process: Orleans' in-process test cluster (real Orleans silos,
/// their messages on Orleans' in-memory transport), each made a storage silo exactly as the silo
/// executable makes one (<see cref="SiloHost.AddStorageSilo"/>): its data endpoint on a real loopback
/// socket, its own disk directory, and the embedded File stores for grain state and reminders in one
/// directory the silos share, so state outlives a silo. Disposing stops the silos and deletes the files.
/// </summary>
public sealed class TestGrid : IAsyncDisposable
{
    private readonly TempDirectory _temp;
    private readonly List<GridClient> _clients = [];

    private TestGrid(TempDirectory temp, InProcessTestCluster cluster, TestApplicationSecrets secrets)
    {
        _temp = temp;
        Cluster = cluster;
        Secrets = secrets;
        // Every client of the test acts for every application the test registered: a driver hands its secret to its executors.
        secrets.Learned += (appId, secret) =>
        {
            lock (_clients)
            {
                foreach (var client in _clients) client.UseApplicationSecret(appId, secret);
            }
        };
        Client = NewClient();
    }

    public InProcessTestCluster Cluster { get; }

    /// <summary>What a member silo of this grid proves on a data connection (the grid's cluster secret).</summary>
    public Orleans.Shuffle.Security.DataPlaneCredential MemberCredential { get; private init; } = null!;

    /// <summary>Secrets of applications registered through <see cref="InProcessTestCluster.Client"/>: its ShuffleGrain calls carry their tokens.</summary>
    public TestApplicationSecrets Secrets { get; }

    /// <summary>Registers an application through the cluster's Orleans client with its test secret.</summary>
    public Task RegisterAsync(IShuffleGrain grain) => grain.RegisterApplication(Secrets.Of(grain.GetPrimaryKeyString()));

    /// <summary>A grid client over the test cluster's Orleans client.</summary>
    public GridClient Client { get; }

    /// <summary>The directory of the shared File stores (grain state, reminders).</summary>
    public string StoreDirectory => _temp.Combine("stores");

    public IReadOnlyList<InProcessSiloHandle> Silos => Cluster.Silos;

    /// <param name="settings">Silo settings (e.g. "Storage:SplitThresholdBytes") for every silo, over the test defaults.</param>
    /// <param name="clock">The grid clock of every silo (heartbeat expiry), when a test moves time itself.</param>
    /// <param name="faultZone">The fault zone of each silo, by its index; none by default.</param>
    /// <param name="slotsOf">The partition slots of each silo, by its index; <paramref name="slotsPerSilo"/> by default.</param>
    /// <param name="configure">More Orleans configuration of every silo (e.g. grain collection options).</param>
    public static async Task<TestGrid> StartAsync(
        int silos, int slotsPerSilo = 64, IReadOnlyDictionary<string, string?>? settings = null, FakeTimeProvider? clock = null,
        Func<int, string>? faultZone = null, Func<int, int>? slotsOf = null, Action<ISiloBuilder>? configure = null,
        [CallerMemberName] string test = "")
    {
        var temp = new TempDirectory("oshuffle-grid");
        string prefix = new(test.Where(char.IsAsciiLetterOrDigit).Take(40).ToArray());
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.Options.ClusterId = $"t{prefix}-{Guid.NewGuid():N}";
        builder.Options.ServiceId = builder.Options.ClusterId;
        builder.Options.ConfigureFileLogging = false;
        string stores = temp.Combine("stores");
        // One cluster secret for the grid's silos, as the embedded membership's directory gives the executable's.
        string clusterSecret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        builder.ConfigureSilo((options, silo) =>
        {
            int index = int.Parse(options.SiloName.Split('_').Last(), System.Globalization.CultureInfo.InvariantCulture);
            var config = Configuration(options.SiloName, temp.Combine(options.SiloName, "disk"), slotsOf?.Invoke(index) ?? slotsPerSilo, faultZone?.Invoke(index) ?? "",
                WithClusterSecret(settings, clusterSecret));
            if (clock is not null) silo.Services.AddKeyedSingleton<TimeProvider>(GridClock.ServiceKey, clock);
            silo.AddFileGrainStorage(ShuffleGrain.StorageName, o => o.Directory = stores);
            silo.UseFileReminderService(o => o.Directory = stores);
            silo.AddStorageSilo(config);
            configure?.Invoke(silo);
        });
        var secrets = new TestApplicationSecrets();
        builder.ConfigureClient(client => client.AddOutgoingGrainCallFilter(secrets));
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            await WaitUntilEverySiloSeesAllActiveAsync(cluster, silos);
            return new TestGrid(temp, cluster, secrets) { MemberCredential = Orleans.Shuffle.Security.DataPlaneCredential.ForSilo("test-member", Convert.FromBase64String(clusterSecret)) };
        }
        catch
        {
            await cluster.DisposeAsync();
            temp.Dispose();
            throw;
        }
    }

    private static IReadOnlyDictionary<string, string?> WithClusterSecret(IReadOnlyDictionary<string, string?>? settings, string secret)
    {
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        all.TryAdd("Security:ClusterSecret", secret);
        return all;
    }

    /// <summary>The silo configuration a test silo gets: the executable's, bound from these settings.</summary>
    public static SiloConfiguration Configuration(string name, string disk, int slots, string faultZone, IReadOnlyDictionary<string, string?>? settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Silo:Name"] = name,
            ["Silo:DataPort"] = "0",
            ["Silo:HttpPort"] = "-1",
            ["Silo:FaultZone"] = faultZone,
            ["Storage:Directories:0"] = disk,
            ["Storage:SlotsPerDisk"] = slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) values[key] = value;
        return SiloConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }

    /// <summary>
    /// Deploying returns once each silo has started, but a silo's view of the others (which placement
    /// picks from: Active silos only) may still lag a membership read behind: a test that places
    /// partitions at once would then see fewer silos than it started. Bounded: 30 s of 50 ms polls.
    /// </summary>
    private static async Task WaitUntilEverySiloSeesAllActiveAsync(InProcessTestCluster cluster, int silos)
    {
        bool Converged() => cluster.Silos.All(silo =>
            silo.ServiceProvider.GetRequiredService<ISiloStatusOracle>().GetApproximateSiloStatuses(onlyActive: true).Count == silos);
        for (int i = 0; i < 600 && !Converged(); i++) await Task.Delay(50);
        if (!Converged()) throw new TimeoutException($"The {silos} test silos did not all see each other Active within 30 s.");
    }

    /// <summary>Another grid client (its own data connections) over the cluster's Orleans client.</summary>
    public GridClient NewClient(GridClientOptions? options = null)
    {
        var client = new GridClient(Cluster.Client, options ?? new GridClientOptions { ShuffleGrainFailoverTimeout = TimeSpan.FromSeconds(60) });
        lock (_clients)
        {
            _clients.Add(client);
            foreach (var (appId, secret) in Secrets.Known) client.UseApplicationSecret(appId, secret);
        }
        return client;
    }

    /// <summary>The silo's index in the order the grid started them (its name is "Silo_{index}").</summary>
    public static int IndexOf(InProcessSiloHandle silo) => int.Parse(silo.Name.Split('_').Last(), System.Globalization.CultureInfo.InvariantCulture);

    public PartitionCatalog CatalogOf(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<PartitionCatalog>();

    /// <summary>The silo a location names, by its Orleans identity; null if it is not running.</summary>
    public InProcessSiloHandle? SiloOf(SiloEndpoint endpoint) =>
        Cluster.Silos.FirstOrDefault(s => s.SiloAddress.ToParsableString() == endpoint.Identity);

    public InProcessSiloHandle SiloOf(string identity) =>
        Cluster.Silos.First(s => s.SiloAddress.ToParsableString() == identity);

    /// <summary>The data endpoint of a silo, as locations name it.</summary>
    public Task<SiloEndpoint> DataEndpointOf(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<DataEndpoint>().Bound;

    /// <summary>Partition files on a silo's disk.</summary>
    public IReadOnlyList<string> DataFilesOf(InProcessSiloHandle silo)
    {
        string disk = _temp.Combine(silo.Name, "disk");
        return Directory.Exists(disk) ? Directory.GetFiles(disk, "*.data", SearchOption.AllDirectories) : [];
    }

    /// <summary>Stops a silo at once, as a crash would: no graceful shutdown, no goodbye to membership.</summary>
    public Task KillSiloAsync(InProcessSiloHandle silo) => Cluster.KillSiloAsync(silo);

    public async ValueTask DisposeAsync()
    {
        List<GridClient> clients;
        lock (_clients) clients = [.. _clients];
        foreach (var client in clients) await client.DisposeAsync();
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        _temp.Dispose();
    }
}
