using Orleans.Runtime;

namespace Orleans.Shuffle.Clustering.File;

/// <summary>
/// membership.json: the rows and table version of every cluster id that uses the directory. ETags are
/// drawn from one counter of the file, so none is handed out twice, not even after a cluster's rows
/// are deleted; a cluster with no entry reads as version 0, etag "0".
/// </summary>
internal sealed class MembershipDocument
{
    public long LastEtag { get; set; }

    public Dictionary<string, ClusterRows> Clusters { get; set; } = new(StringComparer.Ordinal);

    public long NextEtag() => ++LastEtag;
}

internal sealed class ClusterRows
{
    public int Version { get; set; }

    public long VersionEtag { get; set; }

    public List<MembershipRow> Rows { get; set; } = [];

    public MembershipRow? Find(SiloAddress silo)
    {
        string key = silo.ToParsableString();
        return Rows.Find(r => r.SiloAddress == key);
    }
}

/// <summary>One silo's row: every field of Orleans' MembershipEntry, times in UTC.</summary>
internal sealed class MembershipRow
{
    /// <summary>"ip:port@generation", Orleans' parsable form.</summary>
    public required string SiloAddress { get; set; }

    public long Etag { get; set; }

    public SiloStatus Status { get; set; }

    public int ProxyPort { get; set; }

    public string? HostName { get; set; }

    public string? SiloName { get; set; }

    public string? RoleName { get; set; }

    public int UpdateZone { get; set; }

    public int FaultZone { get; set; }

    public DateTime StartTime { get; set; }

    public DateTime IAmAliveTime { get; set; }

    public List<SuspectVote>? SuspectTimes { get; set; }

    public static MembershipRow From(MembershipEntry entry, long etag) => new()
    {
        SiloAddress = entry.SiloAddress.ToParsableString(),
        Etag = etag,
        Status = entry.Status,
        ProxyPort = entry.ProxyPort,
        HostName = entry.HostName,
        SiloName = entry.SiloName,
        RoleName = entry.RoleName,
        UpdateZone = entry.UpdateZone,
        FaultZone = entry.FaultZone,
        StartTime = Utc(entry.StartTime),
        IAmAliveTime = Utc(entry.IAmAliveTime),
        SuspectTimes = entry.SuspectTimes is { Count: > 0 } votes ? votes.Select(v => new SuspectVote(v.Item1.ToParsableString(), Utc(v.Item2))).ToList() : null,
    };

    public MembershipEntry ToEntry()
    {
        var entry = new MembershipEntry
        {
            SiloAddress = Orleans.Runtime.SiloAddress.FromParsableString(SiloAddress),
            Status = Status,
            ProxyPort = ProxyPort,
            HostName = HostName ?? "",
            SiloName = SiloName ?? "",
            RoleName = RoleName,
            UpdateZone = UpdateZone,
            FaultZone = FaultZone,
            StartTime = StartTime,
            IAmAliveTime = IAmAliveTime,
        };
        foreach (var vote in SuspectTimes ?? []) entry.AddSuspector(Orleans.Runtime.SiloAddress.FromParsableString(vote.Silo), vote.Time);
        return entry;
    }

    /// <summary>Orleans' times are UTC; an unspecified one is taken as UTC, a local one converted.</summary>
    public static DateTime Utc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Local => time.ToUniversalTime(),
        DateTimeKind.Unspecified => DateTime.SpecifyKind(time, DateTimeKind.Utc),
        _ => time,
    };
}

/// <summary>A suspicion vote: the voter's parsable silo address and when it voted.</summary>
internal sealed record SuspectVote(string Silo, DateTime Time);
