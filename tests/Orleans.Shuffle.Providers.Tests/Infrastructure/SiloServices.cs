using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Orleans.Shuffle.Providers.Tests.Infrastructure;

/// <summary>
/// What Orleans gives a grain storage in a silo: its default grain storage serializer (JSON) and the
/// activators that make empty states, taken from a silo host that is built once and never started.
/// </summary>
public static class SiloServices
{
    private static readonly Lazy<IHost> Host = new(() =>
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.UseOrleans(silo => silo.UseLocalhostClustering());
        return builder.Build();
    });

    public static IServiceProvider Services => Host.Value.Services;

    public static IGrainStorageSerializer Serializer => Services.GetRequiredService<IGrainStorageSerializer>();

    public static IActivatorProvider Activators => Services.GetRequiredService<IActivatorProvider>();
}
