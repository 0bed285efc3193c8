namespace Orleans.Shuffle.Model;

/// <summary>
/// What a writer needs to push: the shuffle's shape and the current location (newest epoch) of
/// every partition, indexed by partition id.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShuffleLocations(ShuffleSpec Spec, IReadOnlyList<PartitionLocation> Locations);
