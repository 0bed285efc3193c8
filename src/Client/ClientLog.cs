using Microsoft.Extensions.Logging;

namespace Orleans.Shuffle.Client;

/// <summary>Source-generated log messages of the grid client.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(3001, LogLevel.Warning, "Connecting to the grid failed (attempt {Attempt}); trying again in {DelayMs} ms: {Reason}")]
    public static partial void ConnectRetrying(ILogger logger, int attempt, double delayMs, string reason);

    [LoggerMessage(3002, LogLevel.Error, "Connecting to the grid failed {Attempts} times in {Seconds:0.0} s; giving up: {Reason}")]
    public static partial void ConnectGaveUp(ILogger logger, int attempts, double seconds, string reason);
}
