namespace Orleans.Shuffle.Membership;

/// <summary>
/// Where a client finds the grid's gateways, as Orleans' IGatewayListProvider: the grid endpoints of
/// the silos that are Active now. A client asks when it connects, every <see cref="RefreshPeriod"/>,
/// and whenever none of the gateways it knows answers, so it follows silos that leave and join.
/// </summary>
public interface IGatewayListProvider
{
    /// <summary>How often a client asks again while it runs. Orleans' default is 60 s.</summary>
    TimeSpan RefreshPeriod { get; }

    /// <summary>"host:port" of every Active silo's grid port ("[host]:port" for an IPv6 host); empty when none is Active.</summary>
    Task<IReadOnlyList<string>> GetGatewaysAsync(CancellationToken cancellationToken);
}
