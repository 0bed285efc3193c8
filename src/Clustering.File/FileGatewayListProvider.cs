using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Shuffle.FileStore;

namespace Orleans.Shuffle.Clustering.File;

/// <summary>
/// The gateways of a cluster, read by a client from the embedded membership file: every Active row
/// with a gateway (proxy) port. Reads take no lock and never change the file.
/// </summary>
public sealed class FileGatewayListProvider : IGatewayListProvider
{
    private readonly LockedJsonFile<MembershipDocument> _file;

    [ActivatorUtilitiesConstructor]
    public FileGatewayListProvider(IOptions<FileClusteringOptions> options, IOptions<ClusterOptions> cluster, IOptions<GatewayOptions> gateway)
        : this(options.Value, cluster.Value.ClusterId, gateway.Value.GatewayListRefreshPeriod)
    {
    }

    /// <summary>The gateways of <paramref name="clusterId"/> in the directory of <paramref name="options"/>.</summary>
    public FileGatewayListProvider(FileClusteringOptions options, string clusterId, TimeSpan maxStaleness)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        FileStoreOptionsValidator<FileClusteringOptions>.Check(options, FileClusteringOptions.SectionName);
        ClusterId = clusterId;
        MaxStaleness = maxStaleness;
        FilePath = FileMembershipTable.MembershipFilePath(options, clusterId);
        _file = new LockedJsonFile<MembershipDocument>(FilePath, () => new MembershipDocument(), options.LockTimeout);
    }

    public string ClusterId { get; }

    public string FilePath { get; }

    /// <summary>Orleans' GatewayOptions.GatewayListRefreshPeriod: how often the client asks again.</summary>
    public TimeSpan MaxStaleness { get; }

    public bool IsUpdatable => true;

    public Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public async Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken = default)
    {
        var document = await _file.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (document.Clusters.GetValueOrDefault(ClusterId)?.Rows ?? [])
            .Where(r => r.Status == SiloStatus.Active && r.ProxyPort > 0)
            .Select(r => (Silo: SiloAddress.FromParsableString(r.SiloAddress), r.ProxyPort))
            .Select(g => SiloAddress.New(new IPEndPoint(g.Silo.Endpoint.Address, g.ProxyPort), g.Silo.Generation).ToGatewayUri())
            .ToList();
    }

    Task IGatewayListProvider.InitializeGatewayListProvider() => InitializeGatewayListProviderAsync();

    Task<IList<Uri>> IGatewayListProvider.GetGateways() => GetGatewaysAsync();
}
