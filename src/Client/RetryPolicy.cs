using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>Which errors are worth another try, and how long to wait before it.</summary>
internal static class RetryPolicy
{
    /// <summary>Tries of a ShuffleGrain call (the first one included) at least, even past the failover timeout.</summary>
    public const int ControlAttempts = 4;

    /// <summary>Retries of one chunk fetch: fetches are idempotent, so a lost connection or a corrupt reply is simply asked again.</summary>
    public const int FetchRetries = 3;

    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);

    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>The request may not have reached the silo, or its reply was lost: sending it again is safe for idempotent requests.</summary>
    public static bool IsTransient(GridErrorCode code) => code is GridErrorCode.ConnectionLost or GridErrorCode.Timeout or GridErrorCode.SiloUnavailable;

    /// <summary>
    /// A push is retried whole to the same silo with the same batch ids only when the bytes broke in
    /// transit: batches the silo already kept become duplicates that readers drop.
    /// </summary>
    public static bool IsRetryablePush(GridErrorCode code) => code == GridErrorCode.ChecksumMismatch;

    /// <summary>
    /// The partition epochs of a push that failed so are moved to a new epoch (Revive) and the push is
    /// sent again there, same batch ids. The old epoch may have kept some of the batches; readers read
    /// every committed epoch and drop the repeats.
    /// </summary>
    public static bool IsRevivablePush(GridErrorCode code) => code is GridErrorCode.ConnectionLost or GridErrorCode.Timeout
        or GridErrorCode.SiloUnavailable or GridErrorCode.ShuttingDown or GridErrorCode.ReplicationFailed or GridErrorCode.StorageFailure
        or GridErrorCode.NoSlots or GridErrorCode.UnknownPartition;

    /// <summary>
    /// Whether the silo a push went to should not get the partition's next epoch. A failed replication
    /// does not say which of the two silos is at fault; the ShuffleGrain leaves out dead silos itself.
    /// </summary>
    public static bool ExcludesSilo(GridErrorCode code) => code != GridErrorCode.ReplicationFailed;

    /// <summary>The silo itself is unreachable, hung or leaving, not just one of its partitions: stop sending to it.</summary>
    public static bool MeansSiloDown(GridErrorCode code) => code is GridErrorCode.ConnectionLost or GridErrorCode.Timeout
        or GridErrorCode.SiloUnavailable or GridErrorCode.ShuttingDown;

    /// <summary>A Revive that failed so is asked again after a backoff (bounded by the partition's revive budget).</summary>
    public static bool IsRetryableRevive(GridErrorCode code) => IsTransient(code) || code is GridErrorCode.ShuttingDown or GridErrorCode.NoSlots;

    /// <summary>Exponential backoff: <paramref name="first"/> doubled per attempt, capped at <paramref name="max"/>.</summary>
    public static TimeSpan Backoff(int attempt, TimeSpan first, TimeSpan max)
    {
        int doublings = Math.Clamp(attempt, 0, 20);
        double ticks = Math.Min(first.Ticks * Math.Pow(2, doublings), max.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }
}
