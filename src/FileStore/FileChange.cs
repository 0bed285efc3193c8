namespace Orleans.Shuffle.FileStore;

/// <summary>What an update of a <see cref="LockedJsonFile{T}"/> does with the document once the change has looked at it.</summary>
public enum FileChange
{
    /// <summary>Leave the file as it is (a refused or read-only change).</summary>
    None,

    /// <summary>Replace the file with the changed document.</summary>
    Write,

    /// <summary>Delete the file.</summary>
    Delete,
}
