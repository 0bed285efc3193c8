using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Shuffle.AWSUtils;
using Orleans.Shuffle.Clustering.DynamoDB;

namespace Orleans.Hosting;

/// <summary>Silo and client builder extensions of the DynamoDB clustering provider.</summary>
public static class DynamoDBClusteringExtensions
{
    /// <summary>
    /// The silo's membership table is the DynamoDB table <see cref="DynamoDBClusteringOptions.TableName"/>
    /// (created at start-up when missing), with the cluster id of Orleans' ClusterOptions.
    /// </summary>
    public static ISiloBuilder UseDynamoDBClustering(this ISiloBuilder builder, Action<DynamoDBClusteringOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices(services =>
        {
            AddOptions(services, configure);
            services.AddSingleton<IMembershipTable>(sp => ActivatorUtilities.CreateInstance<DynamoDBMembershipTable>(sp));
        });
    }

    /// <summary>
    /// The client finds its gateways in the DynamoDB membership table: the Active silos of Orleans'
    /// cluster id. It needs only dynamodb:Query on the table.
    /// </summary>
    public static IClientBuilder UseDynamoDBClustering(this IClientBuilder builder, Action<DynamoDBClusteringOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices(services =>
        {
            AddOptions(services, configure);
            services.AddSingleton<IGatewayListProvider>(sp => ActivatorUtilities.CreateInstance<DynamoDBGatewayListProvider>(sp));
        });
    }

    private static void AddOptions(IServiceCollection services, Action<DynamoDBClusteringOptions> configure)
    {
        services.Configure(configure);
        services.ConfigureFormatter<DynamoDBClusteringOptions>();
        services.AddSingleton<IConfigurationValidator>(sp => new DynamoDBOptionsValidator<DynamoDBClusteringOptions>(
            sp.GetRequiredService<IOptions<DynamoDBClusteringOptions>>().Value, DynamoDBClusteringOptions.SectionName));
    }
}
