using Orleans.Shuffle.FileStore;
using Orleans.Storage;

namespace Orleans.Shuffle.Persistence.File;

/// <summary>
/// Settings of one embedded grain storage provider: its states are files in
/// <see cref="FileStoreLayout.GrainStateDirectory"/> of <see cref="FileStoreOptions.Directory"/>.
/// </summary>
public sealed class FileGrainStorageOptions : FileStoreOptions, IStorageProviderSerializerOptions
{
    /// <summary>
    /// ClearStateAsync deletes the state's file instead of leaving a cleared record (no state, the next
    /// ETag). Default false: the cleared record keeps ETags rising across a clear, so an activation
    /// that read the state before the clear cannot write over a state written after it.
    /// </summary>
    public bool DeleteStateOnClear { get; set; }

    /// <summary>How states become bytes. Default: the IGrainStorageSerializer the silo configures (named after the provider, else the silo's).</summary>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;
}
