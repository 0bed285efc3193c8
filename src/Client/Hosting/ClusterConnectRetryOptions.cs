namespace Orleans.Shuffle.Client.Hosting;

/// <summary>How a driver or executor retries its first contact with the grid (given to <see cref="ClusterConnectRetryClientBuilderExtensions.UseClusterConnectRetry"/>).</summary>
public sealed class ClusterConnectRetryOptions
{
    /// <summary>Give up once the first connection has failed for this long. Default 60 s, the ShuffleGrain failover timeout.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The wait after the first failure; it doubles per failure up to <see cref="MaxDelay"/>. Default 200 ms.</summary>
    public TimeSpan FirstDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Default 5 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<string> Validate()
    {
        if (Timeout < TimeSpan.Zero) yield return "ClusterConnectRetryOptions.Timeout must be >= 0.";
        if (FirstDelay <= TimeSpan.Zero) yield return "ClusterConnectRetryOptions.FirstDelay must be > 0.";
        if (MaxDelay < FirstDelay) yield return "ClusterConnectRetryOptions.MaxDelay must be >= FirstDelay.";
    }
}
