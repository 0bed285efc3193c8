using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Persistence.File;
using Orleans.Storage;

namespace Orleans.Hosting;

/// <summary>Silo builder extensions of the embedded (File) grain storage provider.</summary>
public static class FileGrainStorageExtensions
{
    /// <summary>Adds the file grain storage as the default grain storage (grains that name no storage).</summary>
    public static ISiloBuilder AddFileGrainStorageAsDefault(this ISiloBuilder builder, Action<FileGrainStorageOptions>? configure = null) =>
        builder.AddFileGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configure);

    /// <summary>
    /// Adds a file grain storage named <paramref name="name"/>: grains use it with
    /// [PersistentState("state", "<paramref name="name"/>")]. Its files are in grain-state/ of
    /// <see cref="FileStoreOptions.Directory"/> (default $TMPDIR/orleans-shuffle/&lt;cluster-id&gt;).
    /// </summary>
    public static ISiloBuilder AddFileGrainStorage(this ISiloBuilder builder, string name, Action<FileGrainStorageOptions>? configure = null) =>
        builder.ConfigureServices(services => services.AddFileGrainStorage(name, configure));

    /// <inheritdoc cref="AddFileGrainStorage(ISiloBuilder, string, Action{FileGrainStorageOptions})"/>
    public static IServiceCollection AddFileGrainStorage(this IServiceCollection services, string name, Action<FileGrainStorageOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var options = services.AddOptions<FileGrainStorageOptions>(name);
        if (configure is not null) options.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Transient<IPostConfigureOptions<FileGrainStorageOptions>, DefaultStorageProviderSerializerOptionsConfigurator<FileGrainStorageOptions>>());
        services.ConfigureNamedOptionForLogging<FileGrainStorageOptions>(name);
        services.AddSingleton<IConfigurationValidator>(sp => new FileStoreOptionsValidator<FileGrainStorageOptions>(
            sp.GetRequiredService<IOptionsMonitor<FileGrainStorageOptions>>().Get(name), FileGrainStorage.SectionName(name)));
        return services.AddGrainStorage(name, (sp, key) => ActivatorUtilities.CreateInstance<FileGrainStorage>(sp,
            key, sp.GetRequiredService<IOptionsMonitor<FileGrainStorageOptions>>().Get(key)));
    }
}
