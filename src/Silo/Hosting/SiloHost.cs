using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Silo.Http;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Silo.Networking;
using Orleans.Shuffle.Silo.Runtime;
using Orleans.Shuffle.Transport;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>Builds and runs a silo: configuration, services, Kestrel endpoints, HTTP routes.</summary>
public static class SiloHost
{
    /// <summary>The silo executable's entry point. Exit codes: 0 stopped, 2 bad configuration, 3 could not start.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (SiloConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync("The silo could not start: " + e.Message).ConfigureAwait(false);
            return 3;
        }
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>Builds a silo without starting it. Tests pass <paramref name="configure"/> to replace services (a fake TimeProvider).</summary>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables("SHUFFLE_");
        builder.Configuration.AddCommandLine(args, SiloConfiguration.SwitchMappings.ToDictionary());
        var config = SiloConfiguration.Load(builder.Configuration);

        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });

        var services = builder.Services;
        services.AddSingleton(config);
        services.AddSingleton(config.Silo);
        services.AddSingleton(Options.Create(config.Network));
        services.AddSingleton(Options.Create(config.Membership));
        services.AddSingleton(Options.Create(config.Applications));
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton(sp => new PartitionCatalog(config.Storage, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<LocalSilo>();
        services.AddSingleton<ClusterMembership>();
        services.AddSingleton<IMembershipTable>(_ => config.Membership.CreateTable(config.Silo.ClusterId));
        // The grain directory and grain storage go with the membership provider (files, or DynamoDB tables created at start-up).
        config.Membership.AddGrainDirectoryAndStorage(services, config.Silo.ClusterId);
        services.AddSingleton<ReplicaForwarder>();
        // Built by a factory so the container disposes it: a stopping silo closes its outbound connections.
        services.AddSingleton(_ => new SiloConnectionPool(new GridConnectionOptions
        {
            PeerName = config.Silo.Name,
            RequestTimeout = config.Network.SiloRequestTimeout,
            MaxFrameBodyBytes = config.Network.MaxFrameBodyBytes,
        }));
        services.AddSingleton<ShuffleGrainLocator>();
        services.AddSingleton<ISiloDirectory, SiloDirectory>();
        services.AddSingleton<ShuffleGrainCatalog>();
        services.AddSingleton<RequestRouter>();
        services.AddSingleton<SiloEndpoints>();
        services.AddSingleton<MembershipAgent>();
        // Lifecycle order matters: endpoints give the silo its address before membership joins with it.
        services.AddHostedService(sp => sp.GetRequiredService<SiloEndpoints>());
        services.AddHostedService(sp => sp.GetRequiredService<MembershipAgent>());
        services.AddHostedService<ApplicationExpiryService>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        configure?.Invoke(services);

        builder.WebHost.UseSockets(o =>
        {
            // A frame must fit in the input pipe whole, or the read loop would wait forever for its end.
            o.MaxReadBufferSize = config.Network.MaxFrameBodyBytes + 1024L * 1024;
            o.MaxWriteBufferSize = 4L * 1024 * 1024;
        });
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var endpoints = kestrel.ApplicationServices.GetRequiredService<SiloEndpoints>();
            var address = SiloEndpoints.ListenAddress(config.Silo);
            kestrel.Listen(address, config.Silo.Port, listen =>
            {
                listen.UseConnectionHandler<GridConnectionHandler>();
                endpoints.Grid = listen;
            });
            if (config.Silo.HttpPort >= 0)
            {
                kestrel.Listen(address, config.Silo.HttpPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    endpoints.Http = listen;
                });
            }
        });

        var app = builder.Build();
        app.MapStateEndpoints();
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            app.Services.GetRequiredService<PartitionCatalog>().Dispose();
        });
        return app;
    }
}
