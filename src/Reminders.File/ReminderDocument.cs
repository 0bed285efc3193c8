using Orleans.Runtime;

namespace Orleans.Shuffle.Reminders.File;

/// <summary>reminders.json: the reminders of every service id that uses the directory. ETags come from one counter of the file, so none repeats.</summary>
internal sealed class ReminderDocument
{
    public long LastEtag { get; set; }

    public Dictionary<string, List<ReminderRow>> Services { get; set; } = new(StringComparer.Ordinal);

    public long NextEtag() => ++LastEtag;
}

internal sealed class ReminderRow
{
    /// <summary>The grain id's string form (GrainId.ToString()).</summary>
    public required string GrainId { get; set; }

    public required string ReminderName { get; set; }

    /// <summary>The grain's uniform hash, where the reminder is on the ring; kept for people reading the file.</summary>
    public uint GrainHash { get; set; }

    public DateTime StartAt { get; set; }

    public TimeSpan Period { get; set; }

    public long ETag { get; set; }

    public bool Is(GrainId grainId, string reminderName) => GrainId == grainId.ToString() && ReminderName == reminderName;

    public ReminderEntry ToEntry() => new()
    {
        GrainId = Orleans.Runtime.GrainId.Parse(GrainId),
        ReminderName = ReminderName,
        StartAt = StartAt,
        Period = Period,
        ETag = ETag.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
