using System.Net;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>Identity and endpoints of a silo (section "Silo").</summary>
public sealed class SiloOptions
{
    public const string SectionName = "Silo";

    /// <summary>Silos with the same cluster id form one grid. Default "dev".</summary>
    public string ClusterId { get; set; } = "dev";

    /// <summary>Human name shown in logs and the dashboard. Default "silo-{port}".</summary>
    public string Name { get; set; } = "";

    /// <summary>Address the endpoints bind. Default 127.0.0.1; use 0.0.0.0 on EC2 with <see cref="AdvertisedHost"/>.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Address other silos and clients use to reach this one. Default: the listen address.</summary>
    public string AdvertisedHost { get; set; } = "";

    /// <summary>Grid protocol port. Default 11111 (Orleans' silo port); 0 picks a free port.</summary>
    public int Port { get; set; } = 11111;

    /// <summary>HTTP port for /healthz and /state. Default 8080; 0 picks a free port; -1 turns HTTP off.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>Fault zone (for example the availability zone); replicas avoid the primary's zone. Default none.</summary>
    public string FaultZone { get; set; } = "";

    public string EffectiveHost => string.IsNullOrEmpty(AdvertisedHost) ? ListenAddress : AdvertisedHost;

    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId) || !Ids.IdValidator.IsValidAppId(ClusterId))
            yield return "Silo:ClusterId must be 1-128 characters of [A-Za-z0-9._-].";
        if (!IPAddress.TryParse(ListenAddress, out var listen))
            yield return $"Silo:ListenAddress '{ListenAddress}' is not an IP address.";
        else if ((listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any)) && string.IsNullOrEmpty(AdvertisedHost))
            yield return "Silo:AdvertisedHost is required when Silo:ListenAddress is a wildcard address.";
        if (Port is < 0 or > 65535) yield return $"Silo:Port {Port} is not a port (0-65535).";
        if (HttpPort is < -1 or > 65535) yield return $"Silo:HttpPort {HttpPort} is not a port (-1 off, 0-65535).";
        if (Port != 0 && Port == HttpPort) yield return "Silo:Port and Silo:HttpPort must differ.";
    }
}
