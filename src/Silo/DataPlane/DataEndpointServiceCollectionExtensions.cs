using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Grains.Security;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Transport;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>Adds the data endpoint to an Orleans silo's services.</summary>
public static class DataEndpointServiceCollectionExtensions
{
    /// <summary>The data endpoint (<see cref="DataEndpoint"/>), its request handling and the connections a primary forwards to replicas on.</summary>
    public static IServiceCollection AddShuffleDataEndpoint(this IServiceCollection services)
    {
        services.AddOptions<DataEndpointOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DataPlaneMemory>();
        services.AddSingleton<DataEndpoint>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<DataEndpoint>());
        services.AddSingleton<ILocalDataEndpoint>(sp => sp.GetRequiredService<DataEndpoint>());
        services.AddSingleton<DataRequestRouter>();
        services.AddSingleton<DataPlaneAuthenticator>();
        services.TryAddSingleton(new DataPlaneTls(null));
        services.AddSingleton<ReplicaForwarder>();
        // Built by a factory so the container disposes it: a stopping silo closes its outbound connections.
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DataEndpointOptions>>().Value;
            var clusterKey = sp.GetRequiredService<ClusterKey>();
            string name = sp.GetRequiredService<ILocalSiloDetails>().Name;
            return new SiloConnectionPool(new GridConnectionOptions
            {
                PeerName = name,
                // Replication is for members only: every connection to another silo proves the cluster secret first.
                Credential = clusterKey.RequireAuthentication ? DataPlaneCredential.ForSilo(name, clusterKey.Secret) : null,
                Tls = sp.GetRequiredService<DataPlaneTls>().ToClientOptions(),
                RequestTimeout = options.ReplicaRequestTimeout,
                MaxFrameBodyBytes = options.MaxFrameBodyBytes,
            });
        });
        return services;
    }
}
