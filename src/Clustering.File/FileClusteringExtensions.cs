using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Shuffle.Clustering.File;
using Orleans.Shuffle.FileStore;

namespace Orleans.Hosting;

/// <summary>Silo and client builder extensions of the embedded (File) clustering provider.</summary>
public static class FileClusteringExtensions
{
    /// <summary>
    /// The silo's membership table is the file membership.json in <see cref="FileStoreOptions.Directory"/>
    /// (default $TMPDIR/orleans-shuffle/&lt;cluster-id&gt;), shared by the silos of this machine. Needs no setup.
    /// </summary>
    public static ISiloBuilder UseFileClustering(this ISiloBuilder builder, Action<FileClusteringOptions>? configure = null) =>
        builder.ConfigureServices(services =>
        {
            AddOptions(services, configure);
            services.AddSingleton<IMembershipTable>(sp => ActivatorUtilities.CreateInstance<FileMembershipTable>(sp));
        });

    /// <summary>The client finds its gateways, the Active silos of Orleans' cluster id, in the same file.</summary>
    public static IClientBuilder UseFileClustering(this IClientBuilder builder, Action<FileClusteringOptions>? configure = null) =>
        builder.ConfigureServices(services =>
        {
            AddOptions(services, configure);
            services.AddSingleton<IGatewayListProvider>(sp => ActivatorUtilities.CreateInstance<FileGatewayListProvider>(sp));
        });

    private static void AddOptions(IServiceCollection services, Action<FileClusteringOptions>? configure)
    {
        if (configure is not null) services.Configure(configure);
        services.ConfigureFormatter<FileClusteringOptions>();
        services.AddSingleton<IConfigurationValidator>(sp => new FileStoreOptionsValidator<FileClusteringOptions>(
            sp.GetRequiredService<IOptions<FileClusteringOptions>>().Value, FileClusteringOptions.SectionName));
    }
}
