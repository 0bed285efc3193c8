using Microsoft.Extensions.Logging;

namespace Orleans.Shuffle.Client.Hosting;

/// <summary>
/// Orleans' hook for a client's first connection (<see cref="IClientConnectionRetryFilter"/>): without
/// one, a client whose first gateway resets the connection, or that starts while the silos are still
/// starting, fails at once, and with it the task it was to run. Every later call of the grid client
/// is retried (ShuffleGrain failover, push revives, fetch retries); this makes the first one so too.
/// Each retry is Orleans' own connect, which asks the gateway list again and tries its gateways.
/// </summary>
public sealed class ClusterConnectRetryFilter(ClusterConnectRetryOptions options, TimeProvider time, ILogger<ClusterConnectRetryFilter> logger)
    : IClientConnectionRetryFilter
{
    private readonly long _started = time.GetTimestamp();
    private int _failures;

    /// <summary>Failed first-connection attempts so far.</summary>
    public int Failures => Volatile.Read(ref _failures);

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        int failures = Interlocked.Increment(ref _failures);
        var delay = RetryPolicy.Backoff(failures - 1, options.FirstDelay, options.MaxDelay);
        var elapsed = time.GetElapsedTime(_started);
        if (elapsed + delay > options.Timeout)
        {
            ClientLog.ConnectGaveUp(logger, failures, elapsed.TotalSeconds, exception.Message);
            return false;
        }
        ClientLog.ConnectRetrying(logger, failures, delay.TotalMilliseconds, exception.Message);
        await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
