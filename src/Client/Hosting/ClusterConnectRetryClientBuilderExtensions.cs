using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Hosting;

namespace Orleans.Shuffle.Client.Hosting;

/// <summary>Adds the grid's first-connection retry to an Orleans client.</summary>
public static class ClusterConnectRetryClientBuilderExtensions
{
    /// <summary>Retries the client's first connection to the grid with backoff, for up to <see cref="ClusterConnectRetryOptions.Timeout"/>.</summary>
    public static IClientBuilder UseClusterConnectRetry(this IClientBuilder client, ClusterConnectRetryOptions? options = null)
    {
        options ??= new ClusterConnectRetryOptions();
        var problems = options.Validate().ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join(" ", problems), nameof(options));
        client.Services.AddSingleton(options);
        client.Services.TryAddSingleton(TimeProvider.System);
        return client.UseConnectionRetryFilter<ClusterConnectRetryFilter>();
    }
}
