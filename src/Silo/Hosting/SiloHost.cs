using System.Net;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Shuffle.Grains.Hosting;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Silo.Http;
using Orleans.Storage;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// Builds and runs a storage silo: an Orleans silo (membership, grain directory, activation,
/// messaging, placement, persistence, reminders: Orleans') in the generic host, carrying the
/// shuffle grains, the data endpoint and, unless turned off, the HTTP endpoints.
/// </summary>
public static class SiloHost
{
    /// <summary>Exit codes: 0 stopped, 2 bad configuration or no usable disk, 3 could not start (ports, stores), 4 the parent process is gone.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        IHost host;
        try
        {
            host = Build(args);
        }
        catch (SiloConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
        var config = host.Services.GetRequiredService<SiloConfiguration>();
        // Ports first: the catalog deletes an earlier incarnation's leftovers when it is made, and a
        // second silo started by mistake on the same ports and disks must exit before it touches them.
        var problems = StartupChecks.Problems(config);
        if (problems.Count > 0)
        {
            await Console.Error.WriteLineAsync("The silo cannot start:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", problems))
                .ConfigureAwait(false);
            return 3;
        }
        var disks = StartupChecks.NoUsableDisk(host.Services.GetRequiredService<Grains.Partition.PartitionCatalog>()).ToList();
        if (disks.Count > 0)
        {
            await Console.Error.WriteLineAsync("The silo has no usable disk:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", disks))
                .ConfigureAwait(false);
            host.Dispose();
            return 2;
        }
        try
        {
            await host.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync("The silo could not start: " + Explain(e)).ConfigureAwait(false);
            return 3;
        }
        await AnnounceAsync(host, config).ConfigureAwait(false);
        await host.WaitForShutdownAsync().ConfigureAwait(false);
        host.Dispose();
        return Environment.ExitCode;
    }

    /// <summary>
    /// Builds a silo without starting it. Tests pass <paramref name="configure"/> to replace services
    /// (a fake grid clock). Without HTTP (Silo:HttpPort -1) it is a plain generic host.
    /// </summary>
    public static IHost Build(string[] args, Action<IServiceCollection>? configure = null)
    {
        var configuration = new ConfigurationManager();
        configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        configuration.AddEnvironmentVariables("SHUFFLE_");
        configuration.AddCommandLine(args, SiloConfiguration.SwitchMappings.ToDictionary());
        var config = SiloConfiguration.Load(configuration);

        if (config.Silo.HttpPort < 0)
        {
            var plain = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Configuration = configuration, ContentRootPath = AppContext.BaseDirectory });
            ConfigureServices(plain, config, configure);
            return plain.Build();
        }

        var web = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        web.Configuration.AddConfiguration(configuration);
        ConfigureServices(web, config, configure);
        web.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        web.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Parse(config.Silo.ListenAddress), config.Silo.HttpPort,
            listen => listen.Protocols = HttpProtocols.Http1));
        var app = web.Build();
        app.MapStateEndpoints(config.Silo.OperatorToken);
        return app;
    }

    /// <summary>
    /// What makes an Orleans silo a storage silo, apart from its cluster, endpoints and stores: the
    /// shuffle grains with their options, and the data endpoint. The test cluster's silos use it too.
    /// </summary>
    public static ISiloBuilder AddStorageSilo(this ISiloBuilder silo, SiloConfiguration config)
    {
        var services = silo.Services;
        services.AddSingleton(Options.Create(config.Storage));
        services.AddSingleton(Options.Create(config.Applications));
        services.AddSingleton(Options.Create(config.DataEndpoint));
        services.AddSingleton(Options.Create(config.Security));
        services.AddSingleton(new DataPlaneTls(config.TlsCertificate));
        if (config.TlsCertificate is { } certificate) silo.UseClusterTls(certificate);
        services.Configure<SlotPlacementOptions>(o => o.FaultZone = config.Silo.FaultZone);
        // The ShuffleGrain's state is Orleans-serialized: compact, and its types say how ([GenerateSerializer]).
        services.AddSingleton<IGrainStorageSerializer>(sp => new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()));
        silo.Configure<ReminderOptions>(o =>
        {
            if (config.Applications.ExpiryCheckPeriod < o.MinimumReminderPeriod) o.MinimumReminderPeriod = config.Applications.ExpiryCheckPeriod;
        });
        silo.AddShuffleGrains();
        services.AddShuffleDataEndpoint();
        return silo;
    }

    private static void ConfigureServices(IHostApplicationBuilder builder, SiloConfiguration config, Action<IServiceCollection>? configure)
    {
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        // Orleans is talkative at Information; its warnings and errors still show.
        if (builder.Configuration["Logging:LogLevel:Orleans"] is null) builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Shuffle", LogLevel.Information);

        var services = builder.Services;
        services.AddSingleton(config);
        services.AddSingleton(config.Silo);
        services.AddHostedService<ParentProcessWatchdog>();
        builder.UseOrleans(silo =>
        {
            ConfigureCluster(silo, config, builder.Configuration);
            SiloStores.Add(silo, config);
            silo.AddStorageSilo(config);
        });
        configure?.Invoke(services);
    }

    private static void ConfigureCluster(ISiloBuilder silo, SiloConfiguration config, IConfiguration configuration)
    {
        var options = config.Silo;
        var listen = IPAddress.Parse(options.ListenAddress);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        silo.Configure<Orleans.Configuration.SiloOptions>(o => o.SiloName = options.Name);
        silo.Configure<EndpointOptions>(o =>
        {
            o.AdvertisedIPAddress = options.EffectiveAddress;
            o.SiloPort = options.SiloPort;
            o.GatewayPort = options.GatewayPort;
            o.SiloListeningEndpoint = new IPEndPoint(listen, options.SiloPort);
            o.GatewayListeningEndpoint = new IPEndPoint(listen, options.GatewayPort);
        });
        var membership = configuration.GetSection(MembershipOptions.SectionName);
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            membership.Bind(o);
            if (membership[nameof(ClusterMembershipOptions.ProbeTimeout)] is null) o.ProbeTimeout = MembershipOptions.DefaultProbeTimeout;
            if (membership[nameof(ClusterMembershipOptions.IAmAliveTablePublishTimeout)] is null)
                o.IAmAliveTablePublishTimeout = MembershipOptions.DefaultIAmAliveTablePublishTimeout;
            if (membership[nameof(ClusterMembershipOptions.EnableConnectionLivenessCheck)] is null)
                o.EnableConnectionLivenessCheck = MembershipOptions.DefaultEnableConnectionLivenessCheck;
        });
    }

    /// <summary>Prints the line a parent (the local job, tests) waits for: where this silo's endpoints are.</summary>
    private static async Task AnnounceAsync(IHost host, SiloConfiguration config)
    {
        var data = await host.Services.GetRequiredService<DataEndpoint>().Bound.ConfigureAwait(false);
        var silo = host.Services.GetRequiredService<ILocalSiloDetails>();
        string http = config.Silo.HttpPort < 0 ? "-" : HttpEndpoint(host, config);
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Orleans.Shuffle.Silo");
        int leftovers = host.Services.GetRequiredService<Grains.Partition.PartitionCatalog>().LeftoversDeleted;
        if (leftovers > 0) Logging.SiloLog.LeftoversDeleted(logger, leftovers);
        Logging.SiloLog.SiloActive(logger, silo.Name, silo.SiloAddress.ToParsableString(), silo.GatewayAddress?.Endpoint.ToString() ?? "-", data.Endpoint, http);
        await Console.Out.WriteLineAsync(
            $"{SiloReadyLine.Prefix}name={silo.Name} identity={silo.SiloAddress.ToParsableString()} silo={silo.SiloAddress.Endpoint} " +
            $"gateway={silo.GatewayAddress?.Endpoint.ToString() ?? "-"} data={data.Endpoint} http={http}").ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
    }

    private static string HttpEndpoint(IHost host, SiloConfiguration config)
    {
        var addresses = host.Services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
        var url = addresses?.FirstOrDefault();
        return url is null ? $"{config.Silo.ListenAddress}:{config.Silo.HttpPort}" : new Uri(url).Authority;
    }

    /// <summary>The innermost message worth showing: Orleans wraps a failed start-up step in lifecycle exceptions.</summary>
    private static string Explain(Exception e)
    {
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is AggregateException { InnerExceptions.Count: 1 } aggregate) current = aggregate.InnerExceptions[0];
            if (!messages.Contains(current.Message)) messages.Add(current.Message);
        }
        return messages.Count == 1 ? messages[0] : string.Join(Environment.NewLine + "  because: ", messages);
    }
}

/// <summary>The line a silo prints on stdout once it is Active: "SILO READY name=.. identity=.. silo=.. gateway=.. data=.. http=..".</summary>
public static class SiloReadyLine
{
    public const string Prefix = "SILO READY ";
}
