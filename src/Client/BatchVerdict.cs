namespace Orleans.Shuffle.Client;

/// <summary>What a reader does with a fetched batch.</summary>
public enum BatchVerdict
{
    /// <summary>A batch of the winning attempt, seen for the first time.</summary>
    Read,

    /// <summary>Seen before: a retried push stored it twice, or two epochs both hold it.</summary>
    Duplicate,

    /// <summary>Written by an attempt that did not win its map, or by a map that has no winner.</summary>
    LosingAttempt,

    /// <summary>Its map is outside the reader's map range or the shuffle's maps.</summary>
    OutOfRange,
}
