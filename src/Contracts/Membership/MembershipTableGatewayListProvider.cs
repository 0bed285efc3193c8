using System.Globalization;

namespace Orleans.Shuffle.Membership;

/// <summary>
/// The gateways of a cluster read from its membership table (any <see cref="IMembershipTable"/>:
/// the DynamoDB table, or the embedded file): one "host:port" per Active row, from the row's
/// address host and its <see cref="MembershipEntry.ProxyPort"/>. Each call reads the whole table
/// once (ReadAll); the table is not created or changed.
/// </summary>
public sealed class MembershipTableGatewayListProvider : IGatewayListProvider
{
    /// <summary>Orleans' GatewayListRefreshPeriod default.</summary>
    public static readonly TimeSpan DefaultRefreshPeriod = TimeSpan.FromSeconds(60);

    private readonly IMembershipTable _table;

    public MembershipTableGatewayListProvider(IMembershipTable table, TimeSpan? refreshPeriod = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        var period = refreshPeriod ?? DefaultRefreshPeriod;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero, nameof(refreshPeriod));
        _table = table;
        RefreshPeriod = period;
    }

    public TimeSpan RefreshPeriod { get; }

    public async Task<IReadOnlyList<string>> GetGatewaysAsync(CancellationToken cancellationToken)
    {
        // The table's calls take no token: stop waiting on cancellation, and let the read finish unobserved.
        var data = await _table.ReadAll().WaitAsync(cancellationToken).ConfigureAwait(false);
        return Gateways(data);
    }

    /// <summary>The gateways of the Active rows of <paramref name="data"/>, sorted, each once.</summary>
    public static IReadOnlyList<string> Gateways(MembershipTableData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.Members
            .Select(m => m.Entry)
            .Where(e => e.Status == SiloStatus.Active && e.ProxyPort is > 0 and <= 65535 && !string.IsNullOrWhiteSpace(e.SiloAddress.Host))
            .Select(e => Format(e.SiloAddress.Host, e.ProxyPort))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>"host:port", or "[host]:port" for an IPv6 address, so the last colon always separates the port.</summary>
    public static string Format(string host, int port)
    {
        string p = port.ToString(CultureInfo.InvariantCulture);
        return host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]:{p}" : $"{host}:{p}";
    }
}
