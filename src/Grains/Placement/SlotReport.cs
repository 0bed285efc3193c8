namespace Orleans.Shuffle.Grains.Placement;

/// <summary>A storage silo's partition slots as it reports them: healthy capacity, what is free now, and its fault zone ("" for none).</summary>
[GenerateSerializer, Immutable]
public sealed record SlotReport(int TotalSlots, int FreeSlots, string FaultZone);
