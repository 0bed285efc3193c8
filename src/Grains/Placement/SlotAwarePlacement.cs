using Orleans.Placement;

namespace Orleans.Shuffle.Grains.Placement;

/// <summary>
/// Orleans placement strategy of PartitionGrains: the storage silo with the most free partition
/// slots, never a silo that is not Active, never one the caller excluded, and never the silo of the
/// partition's other copy (another fault zone when silos declare zones). See <see cref="SlotAwarePlacementDirector"/>.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SlotAwarePlacement : PlacementStrategy
{
    internal static SlotAwarePlacement Singleton { get; } = new();
}

/// <summary>Places the grain class it marks with <see cref="SlotAwarePlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SlotAwarePlacementAttribute() : PlacementAttribute(SlotAwarePlacement.Singleton);
