using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
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
    IServiceProvider services, IOptions<DataEndpointOptions> options, ILocalSiloDetails silo, ILoggerFactory loggers)
    : ILifecycleParticipant<ISiloLifecycle>, ILocalDataEndpoint, IAsyncDisposable
{
    private readonly TaskCompletionSource<SiloEndpoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private KestrelServer? _server;

    public Task<SiloEndpoint> Bound => _bound.Task;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(DataEndpoint), ServiceLifecycleStage.RuntimeServices, StartAsync, StopAsync);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var kestrel = new KestrelServerOptions { ApplicationServices = services };
        ListenOptions? listen = null;
        kestrel.Listen(IPAddress.Parse(settings.ListenAddress), settings.Port, l =>
        {
            l.UseConnectionHandler<DataConnectionHandler>();
            listen = l;
        });
        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions
        {
            // A frame must fit in the input pipe whole, or the read loop would wait forever for its end.
            MaxReadBufferSize = settings.MaxFrameBodyBytes + 1024L * 1024,
            MaxWriteBufferSize = 4L * 1024 * 1024,
        }), loggers);
        _server = new KestrelServer(Options.Create(kestrel), transport, loggers);
        try
        {
            await _server.StartAsync(new NoHttpApplication(), cancellationToken).ConfigureAwait(false);
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

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null) await _server.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _server?.Dispose();
        return ValueTask.CompletedTask;
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
