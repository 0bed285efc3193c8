namespace Orleans.Shuffle.Grains.Runtime;

/// <summary>
/// The clock of the grid's own logic (heartbeat expiry, ages), registered as a keyed
/// <see cref="TimeProvider"/> so tests can replace it with a fake one without also freezing the
/// clock Orleans' membership and timers run on.
/// </summary>
public static class GridClock
{
    public const string ServiceKey = "Orleans.Shuffle.GridClock";
}
