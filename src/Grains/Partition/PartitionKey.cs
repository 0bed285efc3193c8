using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>One epoch of one partition of one shuffle of one application: what a silo stores one file for.</summary>
public readonly record struct PartitionKey(string AppId, int ShuffleId, int PartitionId, int Epoch)
{
    public PartitionRef Ref() => new(PartitionId, Epoch);

    public override string ToString() => $"{AppId}/{ShuffleId}/{PartitionId}-{Epoch}";
}
