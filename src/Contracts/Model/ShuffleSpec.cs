using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Model;

/// <summary>
/// The shape of a shuffle, fixed by the driver when it registers it: map tasks, partitions, and the
/// copies the grid keeps of each partition epoch (2 = a primary and a peer replica, 1 = none).
/// Executors never choose these: they read them from the registration.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShuffleSpec(int NumMaps, int NumPartitions, int Replicas = 2)
{
    public const int MaxReplicas = 2;

    /// <summary>Throws <see cref="GridException"/> (InvalidArgument) naming the first value out of range.</summary>
    public void Validate()
    {
        IdValidator.ValidateShape(NumMaps, NumPartitions);
        if (Replicas is < 1 or > MaxReplicas)
            throw new GridException(GridErrorCode.InvalidArgument, $"Replicas must be 1 or {MaxReplicas}, not {Replicas}.");
    }

    public override string ToString() => $"{NumMaps} maps x {NumPartitions} partitions, {Replicas} " + (Replicas == 1 ? "copy" : "copies");
}
