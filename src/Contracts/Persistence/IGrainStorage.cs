namespace Orleans.Shuffle.Persistence;

/// <summary>A grain's stored state and the etag it was read with.</summary>
public sealed record StoredState(byte[] Data, string ETag);

/// <summary>A write whose etag no longer matches: another activation of the grain wrote meanwhile.</summary>
public sealed class InconsistentStateException(string message) : Exception(message);

/// <summary>
/// Orleans' grain storage contract with optimistic concurrency: every write names the etag it read
/// (null for "no state yet") and fails with <see cref="InconsistentStateException"/> if the stored
/// etag differs. State is opaque bytes, so a store may split large states across several items.
/// </summary>
public interface IGrainStorage
{
    Task<StoredState?> ReadStateAsync(string grainType, string grainId);

    /// <summary>Writes the state; returns the new etag.</summary>
    Task<string> WriteStateAsync(string grainType, string grainId, ReadOnlyMemory<byte> data, string? expectedETag);

    Task ClearStateAsync(string grainType, string grainId, string? expectedETag);
}
