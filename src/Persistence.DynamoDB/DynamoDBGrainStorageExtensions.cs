using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Shuffle.AWSUtils;
using Orleans.Shuffle.Persistence.DynamoDB;
using Orleans.Storage;

namespace Orleans.Hosting;

/// <summary>Silo builder extensions of the DynamoDB grain storage provider.</summary>
public static class DynamoDBGrainStorageExtensions
{
    /// <summary>Adds the DynamoDB grain storage as the default grain storage (grains that name no storage).</summary>
    public static ISiloBuilder AddDynamoDBGrainStorageAsDefault(this ISiloBuilder builder, Action<DynamoDBGrainStorageOptions> configure) =>
        builder.AddDynamoDBGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configure);

    /// <summary>
    /// Adds a DynamoDB grain storage named <paramref name="name"/>: grains use it with
    /// [PersistentState("state", "<paramref name="name"/>")]. Its table is created at start-up when missing.
    /// </summary>
    public static ISiloBuilder AddDynamoDBGrainStorage(this ISiloBuilder builder, string name, Action<DynamoDBGrainStorageOptions> configure) =>
        builder.ConfigureServices(services => services.AddDynamoDBGrainStorage(name, configure));

    /// <inheritdoc cref="AddDynamoDBGrainStorage(ISiloBuilder, string, Action{DynamoDBGrainStorageOptions})"/>
    public static IServiceCollection AddDynamoDBGrainStorage(this IServiceCollection services, string name, Action<DynamoDBGrainStorageOptions> configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<DynamoDBGrainStorageOptions>(name).Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Transient<IPostConfigureOptions<DynamoDBGrainStorageOptions>, DefaultStorageProviderSerializerOptionsConfigurator<DynamoDBGrainStorageOptions>>());
        services.ConfigureNamedOptionForLogging<DynamoDBGrainStorageOptions>(name);
        services.AddSingleton<IConfigurationValidator>(sp => new DynamoDBOptionsValidator<DynamoDBGrainStorageOptions>(
            sp.GetRequiredService<IOptionsMonitor<DynamoDBGrainStorageOptions>>().Get(name), DynamoDBGrainStorage.SectionName(name)));
        return services.AddGrainStorage(name, (sp, key) => ActivatorUtilities.CreateInstance<DynamoDBGrainStorage>(sp,
            key, sp.GetRequiredService<IOptionsMonitor<DynamoDBGrainStorageOptions>>().Get(key)));
    }
}
