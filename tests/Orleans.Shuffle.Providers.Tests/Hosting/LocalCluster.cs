using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Hosting;

/// <summary>
/// Real Orleans silos and a client in this process, on loopback ports, with the providers a test
/// gives them: the providers under the runtime that will use them. Disposing stops what it started.
/// </summary>
public sealed class LocalCluster(Action<ISiloBuilder> siloProviders, Action<IClientBuilder> clientProviders) : IAsyncDisposable
{
    private static readonly TimeSpan StartStopTimeout = TimeSpan.FromSeconds(60);

    private readonly List<IHost> _silos = [];
    private IHost? _client;

    public string ClusterId { get; } = "cluster-" + Guid.NewGuid().ToString("N")[..8];

    public string ServiceId { get; } = "service-" + Guid.NewGuid().ToString("N")[..8];

    public IReadOnlyList<IHost> Silos => _silos;

    public IClusterClient Client => _client?.Services.GetRequiredService<IClusterClient>() ?? throw new InvalidOperationException("No client started.");

    public async Task<IHost> StartSiloAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ServiceId; });
            silo.ConfigureEndpoints(IPAddress.Loopback, LoopbackPort.Free(), LoopbackPort.Free());
            siloProviders(silo);
        });
        var host = builder.Build();
        _silos.Add(host);
        await host.StartAsync().WaitAsync(StartStopTimeout);
        return host;
    }

    public async Task StartClientAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ServiceId; });
            clientProviders(client);
        });
        _client = builder.Build();
        await _client.StartAsync().WaitAsync(StartStopTimeout);
    }

    public static SiloAddress AddressOf(IHost silo) => silo.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;

    /// <summary>Stops <paramref name="silo"/> gracefully, as SIGTERM would.</summary>
    public async Task StopSiloAsync(IHost silo)
    {
        await silo.StopAsync().WaitAsync(StartStopTimeout);
        _silos.Remove(silo);
        silo.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync().WaitAsync(StartStopTimeout);
            _client.Dispose();
        }
        foreach (var silo in _silos.ToList()) await StopSiloAsync(silo);
    }
}
