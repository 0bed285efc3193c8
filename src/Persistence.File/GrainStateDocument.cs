namespace Orleans.Shuffle.Persistence.File;

/// <summary>
/// One grain state's file. The names it belongs to are kept in it, for people reading the directory
/// (the file name is their hash). No ETag: there is no record; an ETag but no State: a cleared record.
/// </summary>
internal sealed class GrainStateDocument
{
    public string? Storage { get; set; }

    public string? ServiceId { get; set; }

    public string? GrainId { get; set; }

    public string? StateName { get; set; }

    public long? ETag { get; set; }

    /// <summary>The serialized state (base64 in the file).</summary>
    public byte[]? State { get; set; }
}
