using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Silo.Runtime;

/// <summary>This silo: its address once its endpoints are bound, its name and its status.</summary>
public sealed class LocalSilo(PartitionCatalog partitions)
{
    private SiloAddress? _address;

    public SiloAddress Address => _address ?? throw new InvalidOperationException("The silo's endpoints are not bound yet.");

    public bool IsBound => _address is not null;

    public string Name { get; private set; } = "";

    public int HttpPort { get; private set; }

    public string FaultZone { get; private set; } = "";

    public SiloStatus Status { get; set; } = SiloStatus.Created;

    public void Bind(SiloAddress address, string name, int httpPort, string faultZone)
    {
        _address = address;
        Name = name;
        HttpPort = httpPort;
        FaultZone = faultZone;
    }

    public SiloInfo ToInfo() => new(
        Address.Identity, Name, Address.Host, Address.Port, HttpPort, Status, partitions.TotalSlots, partitions.FreeSlots, FaultZone);
}
