using Orleans.Configuration;
using Orleans.Hosting;

namespace Orleans.Shuffle.Client.Hosting;

/// <summary>How soon an Orleans client of the grid stops using a gateway the membership declared Dead.</summary>
public static class GatewayRefreshClientBuilderExtensions
{
    /// <summary>The refresh period when none is given.</summary>
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Re-reads the gateway list (the Active silos of the membership) every <paramref name="period"/>
    /// (default 5 s) instead of Orleans' 1 min. A hung silo keeps its TCP connections open, so the
    /// client does not see it fail: it goes on sending grain calls through it, each lost for a whole
    /// response timeout, until a refresh no longer lists it and Orleans closes its connections.
    /// </summary>
    public static IClientBuilder UseGatewayRefresh(this IClientBuilder client, TimeSpan? period = null)
    {
        var every = period ?? DefaultPeriod;
        if (every <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(period), every, "The gateway refresh period must be positive.");
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = every);
        return client;
    }
}
