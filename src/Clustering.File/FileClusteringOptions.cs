using Orleans.Shuffle.FileStore;

namespace Orleans.Shuffle.Clustering.File;

/// <summary>
/// Settings of the embedded membership table: the file <see cref="FileStoreLayout.MembershipFile"/> in
/// <see cref="FileStoreOptions.Directory"/>. The cluster id is Orleans' ClusterOptions.ClusterId.
/// </summary>
public sealed class FileClusteringOptions : FileStoreOptions
{
    /// <summary>Where the settings are named in messages.</summary>
    public const string SectionName = "FileClustering";
}
