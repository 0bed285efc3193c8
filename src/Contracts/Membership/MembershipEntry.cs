namespace Orleans.Shuffle.Membership;

/// <summary>A suspicion vote: which silo suspected the row's silo, and when.</summary>
public sealed record SuspectVote(string VoterIdentity, DateTimeOffset Time);

/// <summary>One row of the membership table, with Orleans' columns plus the grid's HTTP port and slot count.</summary>
public sealed class MembershipEntry
{
    public required SiloAddress SiloAddress { get; init; }

    public SiloStatus Status { get; set; }

    public List<SuspectVote> SuspectTimes { get; set; } = [];

    /// <summary>The port clients connect to; on this grid the silo's grid port.</summary>
    public int ProxyPort { get; set; }

    /// <summary>HTTP port of the silo's health and state endpoints (0 if none).</summary>
    public int HttpPort { get; set; }

    public string HostName { get; set; } = "";

    public string SiloName { get; set; } = "";

    public string RoleName { get; set; } = "storage";

    public string FaultZone { get; set; } = "";

    public DateTimeOffset StartTime { get; set; }

    public DateTimeOffset IAmAliveTime { get; set; }

    public MembershipEntry Copy() => new()
    {
        SiloAddress = SiloAddress,
        Status = Status,
        SuspectTimes = [.. SuspectTimes],
        ProxyPort = ProxyPort,
        HttpPort = HttpPort,
        HostName = HostName,
        SiloName = SiloName,
        RoleName = RoleName,
        FaultZone = FaultZone,
        StartTime = StartTime,
        IAmAliveTime = IAmAliveTime,
    };

    public override string ToString() => $"{SiloAddress} {SiloName} {Status} alive@{IAmAliveTime:O}";
}
