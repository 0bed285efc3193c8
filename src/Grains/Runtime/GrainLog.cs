using Microsoft.Extensions.Logging;

namespace Orleans.Shuffle.Grains.Runtime;

/// <summary>Source-generated log messages of the grains.</summary>
internal static partial class GrainLog
{
    [LoggerMessage(1001, LogLevel.Information, "Shuffle {AppId}/{ShuffleId} registered: {NumMaps} maps, {NumPartitions} partitions on {SiloCount} silos")]
    public static partial void ShuffleRegistered(ILogger logger, string appId, int shuffleId, int numMaps, int numPartitions, int siloCount);

    [LoggerMessage(1002, LogLevel.Warning, "Reserving {Count} partitions of {AppId}/{ShuffleId} on silo {Silo} failed; placing them elsewhere")]
    public static partial void ReserveFailed(ILogger logger, Exception error, string appId, int shuffleId, int count, string silo);

    [LoggerMessage(1003, LogLevel.Information, "Shuffle {AppId}/{ShuffleId} committed: {Bytes} bytes in {Batches} batches, {Partitions} partitions, in {Milliseconds} ms")]
    public static partial void ShuffleCommitted(ILogger logger, string appId, int shuffleId, long bytes, long batches, int partitions, long milliseconds);

    [LoggerMessage(1004, LogLevel.Error, "Commit of {AppId}/{ShuffleId} lost partitions: {Partitions}")]
    public static partial void CommitLostData(ILogger logger, string appId, int shuffleId, string partitions);

    [LoggerMessage(1005, LogLevel.Information, "Shuffle {AppId}/{ShuffleId} unregistered")]
    public static partial void ShuffleUnregistered(ILogger logger, string appId, int shuffleId);

    [LoggerMessage(1006, LogLevel.Warning, "Deleting {AppId}/{ShuffleId} on silo {Silo} failed")]
    public static partial void DestroyFailed(ILogger logger, Exception error, string appId, int shuffleId, string silo);

    [LoggerMessage(1008, LogLevel.Information, "Revived {Count} partitions of {AppId}/{ShuffleId} to new epochs (excluding silos: {Excluded})")]
    public static partial void Revived(ILogger logger, string appId, int shuffleId, int count, string excluded);

    [LoggerMessage(1007, LogLevel.Information, "Application {AppId} unregistered ({Reason})")]
    public static partial void ApplicationUnregistered(ILogger logger, string appId, string reason);
}
