using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// The silo's data endpoint: a Kestrel server of its own, beside Orleans' silo and gateway ports
/// and the HTTP port, serving the binary data-plane protocol through <see cref="DataConnectionHandler"/>
/// (as Celeborn keeps push, fetch and replicate ports apart from its RPC). Its own server so that any
/// Orleans host can carry it, the test cluster's included. Started before Orleans, so a grain placed
/// here can already be pushed to: it takes part in the silo's lifecycle at
/// <see cref="ServiceLifecycleStage.RuntimeServices"/>, before the silo joins the cluster, and stops
/// after every grain has deactivated. <see cref="Bound"/> gives the address once the port is bound.
/// </summary>
public sealed class DataEndpoint(
    IServiceProvider services, IOptions<DataEndpointOptions> options, DataPlaneMemory memory, ILocalSiloDetails silo, DataPlaneTls tls, ILoggerFactory loggers)
    : ILifecycleParticipant<ISiloLifecycle>, ILocalDataEndpoint, IAsyncDisposable
{
    private readonly TaskCompletionSource<SiloEndpoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IHost? _kestrel;
    private DataBlockPool? _blocks;

    /// <summary>The pool the endpoint's sockets use; null before it starts.</summary>
    internal DataBlockPool? Blocks => _blocks;

    public Task<SiloEndpoint> Bound => _bound.Task;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(DataEndpoint), ServiceLifecycleStage.RuntimeServices, StartAsync, StopAsync);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        ListenOptions? listen = null;
        _blocks = new DataBlockPool(settings.BlockBytes, settings.MaxKeptBlockBytes);
        memory.Blocks = _blocks;
        _kestrel = BuildKestrel(settings, _blocks, l => listen = l);
        var server = _kestrel.Services.GetRequiredService<IServer>();
        try
        {
            await server.StartAsync(new NoHttpApplication(), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new IOException(
                $"The data endpoint cannot listen on {settings.ListenAddress}:{settings.Port}: {e.Message}. " +
                "Another process (another silo?) uses the port: choose another with --data-port.", e);
        }
        int port = listen!.IPEndPoint!.Port;
        _bound.TrySetResult(new SiloEndpoint(silo.SiloAddress.ToParsableString(), silo.Name, settings.EffectiveHost, port));
    }

    /// <summary>
    /// Kestrel and its socket transport from Kestrel's own service registrations, in a container of
    /// their own that is never started as a host: only so the transport takes its memory pool from the
    /// container, where ours replaces Kestrel's (<see cref="DataBlockPool"/>). A transport built by hand
    /// rents every 4 KiB receive block from ArrayPool.Shared, which keeps few of them: 150-200 MB/s of
    /// garbage in a busy silo and a heap that grew with the data (bench/README.md, "Memory"). The
    /// connection handler comes from the silo's own services.
    /// </summary>
    private IHost BuildKestrel(DataEndpointOptions settings, DataBlockPool blocks, Action<ListenOptions> bound) =>
        new HostBuilder()
            .ConfigureServices(s => s.AddSingleton(loggers))
            .ConfigureWebHost(web => web
                .UseKestrelCore()
                .UseKestrelHttpsConfiguration()
                .UseSockets(transport =>
                {
                    // Larger frames do not wait whole in the pipe: DataConnectionHandler copies them out as they come.
                    transport.MaxReadBufferSize = settings.ReceiveBufferBytes;
                    transport.MaxWriteBufferSize = 4L * 1024 * 1024;
                })
                .ConfigureKestrel(kestrel =>
                {
                    kestrel.ApplicationServices = new FallbackServiceProvider(services, kestrel.ApplicationServices);
                    kestrel.Limits.MaxConcurrentConnections = settings.MaxConnections;
                    kestrel.Listen(IPAddress.Parse(settings.ListenAddress), settings.Port, l =>
                    {
                        // TLS first: a peer that does not speak it is dropped in the handshake, before any frame is read.
                        if (tls.Certificate is { } certificate)
                        {
                            l.UseHttps(certificate, https =>
                            {
                                https.SslProtocols = System.Security.Authentication.SslProtocols.Tls13 | System.Security.Authentication.SslProtocols.Tls12;
                                https.HandshakeTimeout = settings.HandshakeTimeout;
                            });
                        }
                        l.UseConnectionHandler<DataConnectionHandler>();
                        bound(l);
                    });
                }))
            // After Kestrel's registrations, so ours is the one the transport gets.
            .ConfigureServices(s => s.Replace(ServiceDescriptor.Singleton<IMemoryPoolFactory<byte>>(new DataBlockPoolFactory(blocks))))
            .Build();

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_kestrel is not null) await _kestrel.Services.GetRequiredService<IServer>().StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_kestrel is IAsyncDisposable kestrel) await kestrel.DisposeAsync().ConfigureAwait(false);
        else _kestrel?.Dispose();
        _blocks?.Dispose();
    }

    /// <summary>Kestrel wants an HTTP application even when every endpoint is a connection handler; this one is never called.</summary>
    private sealed class NoHttpApplication : IHttpApplication<IFeatureCollection>
    {
        public IFeatureCollection CreateContext(IFeatureCollection contextFeatures) => contextFeatures;

        public Task ProcessRequestAsync(IFeatureCollection context) => Task.CompletedTask;

        public void DisposeContext(IFeatureCollection context, Exception? exception)
        {
        }
    }
}
