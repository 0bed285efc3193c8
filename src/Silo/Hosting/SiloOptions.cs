using System.Net;
using Orleans.Shuffle.Ids;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>Identity and endpoints of a storage silo (section "Silo").</summary>
public sealed class SiloOptions
{
    public const string SectionName = "Silo";

    /// <summary>Silos with the same cluster id form one grid (Orleans' ClusterId). Default "dev".</summary>
    public string ClusterId { get; set; } = "dev";

    /// <summary>
    /// Orleans' ServiceId: what ShuffleGrain state and reminders are stored under, so it must stay the
    /// same across restarts of one grid, and differ between grids that share tables. Default: the cluster id.
    /// </summary>
    public string ServiceId { get; set; } = "";

    /// <summary>Name in logs, locations and error messages. Default "silo-{silo port}".</summary>
    public string Name { get; set; } = "";

    /// <summary>Address every endpoint binds. Default 127.0.0.1; use 0.0.0.0 on EC2 with <see cref="AdvertisedHost"/>.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>IP address other silos and clients use to reach this one. Default: the listen address.</summary>
    public string AdvertisedHost { get; set; } = "";

    /// <summary>Orleans' silo-to-silo port (membership probes, grain calls). Default 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Orleans' gateway port, which drivers' and executors' Orleans clients connect to. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The data endpoint's port: pushes, replication, fetches (docs/protocol.md). Default 11200; 0 picks a free port.</summary>
    public int DataPort { get; set; } = 11200;

    /// <summary>HTTP port for /healthz and /state. Default 8080; 0 picks a free port; -1 turns HTTP off.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>
    /// The token /state requires (<c>Authorization: Bearer &lt;token&gt;</c>) from any host. Default none:
    /// then /state answers this machine only. Give it in the environment (SHUFFLE_Silo__OperatorToken),
    /// not on the command line, where other users of the machine can read it. /healthz needs none.
    /// </summary>
    public string OperatorToken { get; set; } = "";

    /// <summary>Fault zone (for example the availability zone); replicas avoid the primary's zone. Default none.</summary>
    public string FaultZone { get; set; } = "";

    /// <summary>
    /// Process id of the process that started this silo (a test, the local job): the silo stops when
    /// that process is gone, so a crashed parent leaks no silos. 0 (default): none.
    /// </summary>
    public int ParentProcessId { get; set; }

    public IPAddress EffectiveAddress => IPAddress.Parse(string.IsNullOrEmpty(AdvertisedHost) ? ListenAddress : AdvertisedHost);

    public IEnumerable<string> Validate()
    {
        if (!IdValidator.IsValidAppId(ClusterId)) yield return $"{SectionName}:ClusterId must be 1-128 characters of [A-Za-z0-9._-].";
        if (ServiceId.Length > 0 && !IdValidator.IsValidAppId(ServiceId)) yield return $"{SectionName}:ServiceId must be 1-128 characters of [A-Za-z0-9._-].";
        if (!IPAddress.TryParse(ListenAddress, out var listen))
            yield return $"{SectionName}:ListenAddress '{ListenAddress}' is not an IP address.";
        else if ((listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any)) && string.IsNullOrEmpty(AdvertisedHost))
            yield return $"{SectionName}:AdvertisedHost is required when {SectionName}:ListenAddress is a wildcard address.";
        if (!string.IsNullOrEmpty(AdvertisedHost) && !IPAddress.TryParse(AdvertisedHost, out _))
            yield return $"{SectionName}:AdvertisedHost '{AdvertisedHost}' is not an IP address (Orleans advertises an IP).";
        if (SiloPort is < 1 or > 65535) yield return $"{SectionName}:SiloPort {SiloPort} is not a port (1-65535).";
        if (GatewayPort is < 1 or > 65535) yield return $"{SectionName}:GatewayPort {GatewayPort} is not a port (1-65535).";
        if (DataPort is < 0 or > 65535) yield return $"{SectionName}:DataPort {DataPort} is not a port (0 any, 1-65535).";
        if (HttpPort is < -1 or > 65535) yield return $"{SectionName}:HttpPort {HttpPort} is not a port (-1 off, 0 any, 1-65535).";
        var fixedPorts = new[] { SiloPort, GatewayPort, DataPort, HttpPort }.Where(p => p > 0).ToList();
        if (fixedPorts.Distinct().Count() != fixedPorts.Count)
            yield return $"{SectionName}: SiloPort ({SiloPort}), GatewayPort ({GatewayPort}), DataPort ({DataPort}) and HttpPort ({HttpPort}) must differ.";
        if (ParentProcessId < 0) yield return $"{SectionName}:ParentProcessId must be a process id (or 0 for none).";
    }
}
