namespace Orleans.Shuffle.Model;

/// <summary>One epoch of one partition of a shuffle.</summary>
[GenerateSerializer, Immutable]
public readonly record struct PartitionRef(int PartitionId, int Epoch)
{
    public override string ToString() => $"{PartitionId}-{Epoch}";
}
