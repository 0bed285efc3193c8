namespace Orleans.Shuffle.Grains.Placement;

/// <summary>Settings of slot-aware placement on a storage silo.</summary>
public sealed class SlotPlacementOptions
{
    /// <summary>This silo's fault zone (e.g. its availability zone); a replica goes to another zone when there is one. Default "" (none).</summary>
    public string FaultZone { get; set; } = "";

    /// <summary>How old another silo's slot report may be before a placement asks it again. Default 500 ms.</summary>
    public TimeSpan SlotReportMaxAge { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a placement waits for a silo's slot report; a silo that does not answer in time gets no partition. Default 5 s.</summary>
    public TimeSpan SlotReportTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<string> Validate(string section)
    {
        if (SlotReportMaxAge < TimeSpan.Zero) yield return $"{section}:SlotReportMaxAge must not be negative.";
        if (SlotReportTimeout <= TimeSpan.Zero) yield return $"{section}:SlotReportTimeout must be positive.";
    }
}
