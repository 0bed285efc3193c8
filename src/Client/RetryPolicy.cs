using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>Which errors are worth another try, and how long to wait before it.</summary>
internal static class RetryPolicy
{
    /// <summary>Tries of a control request (the first one included) at least, even past the ShuffleGrain failover timeout.</summary>
    public const int ControlAttempts = 4;

    /// <summary>Retries of one chunk fetch: fetches are idempotent, so a lost connection or a corrupt reply is simply asked again.</summary>
    public const int FetchRetries = 3;

    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);

    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>GetReducerFileGroup answers NotCommitted until the shuffle commits; poll from 50 ms up to 1 s.</summary>
    public static readonly TimeSpan FirstCommitPoll = TimeSpan.FromMilliseconds(50);

    public static readonly TimeSpan MaxCommitPoll = TimeSpan.FromSeconds(1);

    /// <summary>The request may not have reached the silo, or its reply was lost: sending it again is safe for idempotent requests.</summary>
    public static bool IsTransient(ErrorCode code) => code is ErrorCode.ConnectionLost or ErrorCode.Timeout or ErrorCode.SiloUnavailable;

    /// <summary>
    /// A push is retried whole to the same silo with the same batch ids only when the bytes broke in
    /// transit: batches the silo already kept become duplicates that readers drop.
    /// </summary>
    public static bool IsRetryablePush(ErrorCode code) => code == ErrorCode.ChecksumMismatch;

    /// <summary>
    /// The partition epochs of a push that failed so are moved to a new epoch (Revive) and the push is
    /// sent again there, same batch ids. The old epoch may have kept some of the batches; readers read
    /// every committed epoch and drop the repeats.
    /// </summary>
    public static bool IsRevivablePush(ErrorCode code) => code is ErrorCode.ConnectionLost or ErrorCode.Timeout
        or ErrorCode.SiloUnavailable or ErrorCode.ShuttingDown or ErrorCode.ReplicationFailed or ErrorCode.StorageFailure
        or ErrorCode.NoSlots or ErrorCode.UnknownPartition;

    /// <summary>
    /// Whether the silo a push went to should not get the partition's next epoch. A failed replication
    /// does not say which of the two silos is at fault; the ShuffleGrain leaves out dead silos itself.
    /// </summary>
    public static bool ExcludesSilo(ErrorCode code) => code != ErrorCode.ReplicationFailed;

    /// <summary>The silo itself is unreachable, hung or leaving, not just one of its partitions: stop sending to it.</summary>
    public static bool MeansSiloDown(ErrorCode code) => code is ErrorCode.ConnectionLost or ErrorCode.Timeout
        or ErrorCode.SiloUnavailable or ErrorCode.ShuttingDown;

    /// <summary>A Revive that failed so is asked again after a backoff (bounded by the partition's revive budget).</summary>
    public static bool IsRetryableRevive(ErrorCode code) => IsTransient(code) || code is ErrorCode.ShuttingDown or ErrorCode.NoSlots;

    /// <summary>
    /// The silo we asked is gone, leaving or hung: a fresh cluster view may place the ShuffleGrain
    /// elsewhere. Every ShuffleGrain request is idempotent (registrations, MapperEnd, Revive and the
    /// file group answer the same when repeated), so a timed-out one is simply sent again.
    /// </summary>
    public static bool IsReroutable(ErrorCode code) => code is ErrorCode.ConnectionLost or ErrorCode.SiloUnavailable or ErrorCode.ShuttingDown or ErrorCode.Timeout;

    /// <summary>Exponential backoff: <paramref name="first"/> doubled per attempt, capped at <paramref name="max"/>.</summary>
    public static TimeSpan Backoff(int attempt, TimeSpan first, TimeSpan max)
    {
        int doublings = Math.Clamp(attempt, 0, 20);
        double ticks = Math.Min(first.Ticks * Math.Pow(2, doublings), max.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }
}
