using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Transport;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// The silo's data plane without Orleans: a real <see cref="PartitionCatalog"/> on a temp directory and the
/// real <see cref="DataEndpoint"/> (Kestrel, <see cref="DataConnectionHandler"/>, <see cref="DataRequestRouter"/>)
/// on 127.0.0.1 at a free port. Partitions are reserved directly in the catalog, as a PartitionGrain would.
/// </summary>
internal sealed class DataPlaneHost : IAsyncDisposable
{
    public const string AppId = "bench-app";
    public const int ShuffleId = 0;

    private readonly ServiceProvider _services;
    private readonly DataEndpoint _endpoint;

    private DataPlaneHost(string root, ServiceProvider services, PartitionCatalog catalog, DataEndpoint endpoint, SiloEndpoint silo)
    {
        Root = root;
        _services = services;
        Catalog = catalog;
        _endpoint = endpoint;
        Silo = silo;
    }

    public string Root { get; }

    public PartitionCatalog Catalog { get; }

    /// <summary>Where the endpoint listens: 127.0.0.1 and the port Kestrel picked.</summary>
    public SiloEndpoint Silo { get; }

    public static async Task<DataPlaneHost> StartAsync(int chunkBytes = 8 * 1024 * 1024)
    {
        string root = Path.Combine(Path.GetTempPath(), "orleans-shuffle-bench", Guid.NewGuid().ToString("N"));
        var storage = new StorageOptions
        {
            Directories = [root],
            SlotsPerDisk = 256,
            ChunkBytes = chunkBytes,
            // No split notices: they would put allocations (a PushReply with splits) on every push.
            SplitThresholdBytes = long.MaxValue,
        };
        var catalog = new PartitionCatalog(storage);
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(catalog)
            .AddSingleton(new SiloConnectionPool(new GridConnectionOptions { PeerName = "bench-silo" }))
            .AddSingleton<ReplicaForwarder>()
            .AddSingleton<ILocalSiloDetails>(new BenchSiloDetails())
            .AddSingleton(TimeProvider.System)
            .AddSingleton<DataPlaneMemory>()
            .AddSingleton<DataEndpoint>()
            .AddSingleton<DataRequestRouter>()
            .Configure<DataEndpointOptions>(o =>
            {
                o.ListenAddress = "127.0.0.1";
                o.Port = 0;
            })
            .BuildServiceProvider();
        var endpoint = services.GetRequiredService<DataEndpoint>();
        await endpoint.StartAsync(CancellationToken.None).ConfigureAwait(false);
        var bound = await endpoint.Bound.ConfigureAwait(false);
        return new DataPlaneHost(root, services, catalog, endpoint, bound);
    }

    public static PartitionKey Key(int partitionId) => new(AppId, ShuffleId, partitionId, 0);

    public HostedPartition Reserve(int partitionId) => Catalog.Reserve(Key(partitionId), PartitionRole.Primary, replica: null);

    /// <summary>Deletes a partition's file and hosts it again, empty (keeps pushed files from growing without end).</summary>
    public HostedPartition Recreate(int partitionId)
    {
        Catalog.DestroyAsync(Key(partitionId)).GetAwaiter().GetResult();
        return Reserve(partitionId);
    }

    /// <summary>
    /// A connection to the real <see cref="DataConnectionHandler"/> over in-memory pipes instead of Kestrel's
    /// socket transport: what the silo allocates per request, without any client in the process.
    /// </summary>
    public InMemoryConnection OpenInMemory()
    {
        var handler = ActivatorUtilities.CreateInstance<DataConnectionHandler>(_services);
        // Thresholds like the endpoint's socket transport: reads pause past one frame (plus 1 MiB), writes past 4 MiB.
        var toSilo = new Pipe(new PipeOptions(pauseWriterThreshold: 33L * 1024 * 1024, resumeWriterThreshold: 16L * 1024 * 1024, useSynchronizationContext: false));
        var fromSilo = new Pipe(new PipeOptions(pauseWriterThreshold: 4L * 1024 * 1024, resumeWriterThreshold: 2L * 1024 * 1024, useSynchronizationContext: false));
        var context = new DefaultConnectionContext("bench-" + Guid.NewGuid().ToString("N"),
            new DuplexPipe(toSilo.Reader, fromSilo.Writer), new DuplexPipe(fromSilo.Reader, toSilo.Writer));
        var running = Task.Run(() => handler.OnConnectedAsync(context));
        return new InMemoryConnection(toSilo.Writer, fromSilo.Reader, running);
    }

    public async ValueTask DisposeAsync()
    {
        await _endpoint.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _endpoint.DisposeAsync().ConfigureAwait(false);
        await _services.GetRequiredService<SiloConnectionPool>().DisposeAsync().ConfigureAwait(false);
        Catalog.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
        try { Directory.Delete(Root, recursive: true); } catch (DirectoryNotFoundException) { }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Only what <see cref="DataEndpoint.StartAsync"/> reads: the silo's address, for its identity.</summary>
    private sealed class BenchSiloDetails : ILocalSiloDetails
    {
        public string Name => "bench-silo";

        public string ClusterId => "bench";

        public string DnsHostName => "localhost";

        public SiloAddress SiloAddress { get; } = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);

        public SiloAddress GatewayAddress => SiloAddress;
    }
}

/// <summary>The client's ends of an in-memory connection to the silo's <see cref="DataConnectionHandler"/>.</summary>
internal sealed class InMemoryConnection(PipeWriter toSilo, PipeReader fromSilo, Task handler) : IAsyncDisposable
{
    public PipeWriter ToSilo { get; } = toSilo;

    public PipeReader FromSilo { get; } = fromSilo;

    public async ValueTask DisposeAsync()
    {
        await ToSilo.CompleteAsync().ConfigureAwait(false);
        await handler.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        await FromSilo.CompleteAsync().ConfigureAwait(false);
    }
}
