namespace Orleans.Shuffle.FileStore;

/// <summary>What every embedded (File) provider is configured with: the cluster's directory and how long to wait for a lock.</summary>
public abstract class FileStoreOptions
{
    /// <summary>The default <see cref="LockTimeout"/>: 30 s.</summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The directory the silos of one machine share for this cluster; the three File providers may
    /// share it (<see cref="FileStoreLayout"/> names their files). Default null:
    /// <c>$TMPDIR/orleans-shuffle/&lt;cluster-id&gt;</c> of Orleans' ClusterOptions. A relative path is
    /// taken from the process's current directory. Created when missing.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>How long a change waits for another process's lock before it fails. Default 30 s.</summary>
    public TimeSpan LockTimeout { get; set; } = DefaultLockTimeout;

    /// <summary>The directory in use: <see cref="Directory"/>, or the default of <paramref name="clusterId"/>, as a full path.</summary>
    public string ResolveDirectory(string clusterId) =>
        Path.GetFullPath(string.IsNullOrWhiteSpace(Directory) ? FileStoreLayout.DefaultDirectory(clusterId) : Directory);

    /// <summary>Every problem of these settings, each naming the setting as "<paramref name="sectionName"/>:Setting". Empty when valid.</summary>
    public virtual IReadOnlyList<string> Validate(string sectionName)
    {
        var problems = new List<string>();
        if (Directory is not null)
        {
            if (string.IsNullOrWhiteSpace(Directory))
                problems.Add($"{sectionName}:Directory is blank: give a directory, or leave it unset for $TMPDIR/{FileStoreLayout.TempFolder}/<cluster-id>.");
            else if (Directory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
                problems.Add($"{sectionName}:Directory '{Directory}' holds characters that cannot be in a path.");
        }
        if (LockTimeout <= TimeSpan.Zero) problems.Add($"{sectionName}:LockTimeout must be positive.");
        return problems;
    }
}
