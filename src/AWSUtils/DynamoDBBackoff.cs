namespace Orleans.Shuffle.AWSUtils;

/// <summary>Waits between retries of a request DynamoDB throttled or cancelled for a conflict.</summary>
public static class DynamoDBBackoff
{
    /// <summary>A random wait (jitter, so racing silos spread out) that grows with <paramref name="attempt"/>, at most about 1.3 s.</summary>
    public static TimeSpan Delay(int attempt) =>
        TimeSpan.FromMilliseconds(Random.Shared.Next(10, 20 * (1 << Math.Clamp(attempt, 1, 6))));
}
