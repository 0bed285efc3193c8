namespace Orleans.Shuffle.Grains.Partition;

/// <summary>The identity of a PartitionGrain: one epoch of one partition of one shuffle of one application.</summary>
public readonly record struct PartitionKey(string AppId, int ShuffleId, int PartitionId, int Epoch)
{
    public override string ToString() => $"{AppId}/{ShuffleId}/{PartitionId}-{Epoch}";
}
