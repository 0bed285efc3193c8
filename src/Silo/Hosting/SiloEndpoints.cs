using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Silo.Runtime;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// The Kestrel endpoints of the silo. Port 0 means "any free port", so the real ports are known only
/// after Kestrel has bound them; once every hosted service has started, this gives the silo its
/// address (host, bound grid port, new generation), before membership joins with it.
/// </summary>
public sealed class SiloEndpoints(SiloOptions options, LocalSilo local, TimeProvider time) : IHostedLifecycleService
{
    public ListenOptions? Grid { get; set; }

    public ListenOptions? Http { get; set; }

    public int GridPort => (Grid?.IPEndPoint ?? throw new InvalidOperationException("The grid endpoint is not configured.")).Port;

    public int HttpPort => Http?.IPEndPoint?.Port ?? 0;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        local.Bind(new SiloAddress(options.EffectiveHost, GridPort, SiloAddress.NewGeneration(time)), options.Name, HttpPort, options.FaultZone);
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static IPAddress ListenAddress(SiloOptions options) => IPAddress.Parse(options.ListenAddress);
}
