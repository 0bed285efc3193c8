namespace Orleans.Shuffle.Model;

/// <summary>The copy a PartitionGrain holds: the primary takes pushes and forwards them; the replica takes forwarded batches only.</summary>
[GenerateSerializer]
public enum PartitionRole : byte
{
    Primary = 0,
    Replica = 1,
}
