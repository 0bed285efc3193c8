using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>One silo as the cluster sees it: identity, endpoints, status and slots.</summary>
public sealed record SiloInfo(
    string Identity, string Name, string Host, int Port, int HttpPort, SiloStatus Status, int TotalSlots, int FreeSlots, string FaultZone)
{
    public void Write(WireWriter writer)
    {
        writer.WriteString(Identity);
        writer.WriteString(Name);
        writer.WriteString(Host);
        writer.WriteInt32(Port);
        writer.WriteInt32(HttpPort);
        writer.WriteByte((byte)Status);
        writer.WriteInt32(TotalSlots);
        writer.WriteInt32(FreeSlots);
        writer.WriteString(FaultZone);
    }

    public static SiloInfo Read(ref WireReader reader) => new(
        reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadInt32(), reader.ReadInt32(),
        (SiloStatus)reader.ReadByte(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadString());
}

/// <summary>The reply to GetClusterView: the silos of the membership table that are not Dead.</summary>
public sealed record ClusterView(long Version, IReadOnlyList<SiloInfo> Silos) : IWireMessage<ClusterView>
{
    public IEnumerable<SiloInfo> Active => Silos.Where(s => s.Status == SiloStatus.Active);

    public void Write(WireWriter writer)
    {
        writer.WriteInt64(Version);
        writer.WriteInt32(Silos.Count);
        foreach (var silo in Silos) silo.Write(writer);
    }

    public static ClusterView Read(ref WireReader reader)
    {
        long version = reader.ReadInt64();
        int count = reader.ReadCount(100_000, 20);
        var silos = new SiloInfo[count];
        for (int i = 0; i < count; i++) silos[i] = SiloInfo.Read(ref reader);
        return new ClusterView(version, silos);
    }
}

/// <summary>The reply to GetSiloStats: the answering silo alone.</summary>
public sealed record SiloStats(SiloInfo Silo) : IWireMessage<SiloStats>
{
    public void Write(WireWriter writer) => Silo.Write(writer);

    public static SiloStats Read(ref WireReader reader) => new(SiloInfo.Read(ref reader));
}
