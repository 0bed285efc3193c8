using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Grains.Runtime;

/// <summary>Source-generated log messages of the grains.</summary>
internal static partial class GrainLog
{
    [LoggerMessage(1001, LogLevel.Information, "Shuffle {AppId}/{ShuffleId} registered: {Spec}, on {SiloCount} silos")]
    public static partial void ShuffleRegistered(ILogger logger, string appId, int shuffleId, string spec, int siloCount);

    [LoggerMessage(1003, LogLevel.Information, "Shuffle {AppId}/{ShuffleId} committed: {Bytes} bytes in {Batches} batches, {Partitions} partition epochs, in {Milliseconds} ms")]
    public static partial void ShuffleCommitted(ILogger logger, string appId, int shuffleId, long bytes, long batches, int partitions, long milliseconds);

    [LoggerMessage(1004, LogLevel.Error, "Commit of {AppId}/{ShuffleId} lost partitions: {Partitions}")]
    public static partial void CommitLostData(ILogger logger, string appId, int shuffleId, string partitions);

    [LoggerMessage(1005, LogLevel.Information, "Shuffle {AppId}/{ShuffleId} unregistered")]
    public static partial void ShuffleUnregistered(ILogger logger, string appId, int shuffleId);

    [LoggerMessage(1006, LogLevel.Warning, "Deleting {AppId}/{ShuffleId} failed for {Count} partition epochs; their copies go when their silos restart")]
    public static partial void DestroyFailed(ILogger logger, Exception error, string appId, int shuffleId, int count);

    [LoggerMessage(1007, LogLevel.Information, "Application {AppId} unregistered ({Reason})")]
    public static partial void ApplicationUnregistered(ILogger logger, string appId, string reason);

    [LoggerMessage(1008, LogLevel.Information, "Revived {Count} partitions of {AppId}/{ShuffleId} to new epochs (excluding silos: {Excluded})")]
    public static partial void Revived(ILogger logger, string appId, int shuffleId, int count, string excluded);

    [LoggerMessage(1009, LogLevel.Information, "Application {AppId} registered")]
    public static partial void ApplicationRegistered(ILogger logger, string appId);

    [LoggerMessage(1010, LogLevel.Warning, "Application {AppId} was silent for {Seconds} s: deleting its data")]
    public static partial void ApplicationExpired(ILogger logger, string appId, long seconds);

    [LoggerMessage(1012, LogLevel.Warning, "Sweeping silo {Silo} for copies of application {AppId} failed; they stay until the silo restarts")]
    public static partial void SweepFailed(ILogger logger, Exception error, string appId, string silo);

    [LoggerMessage(1013, LogLevel.Information, "Application {AppId}: the silos' sweep deleted {Count} copies its grains had not")]
    public static partial void SweptLeftovers(ILogger logger, string appId, int count);

    [LoggerMessage(1011, LogLevel.Debug, "Partition copy {Partition} reserved as {Role} (replica {Replica}) on {Disk}")]
    public static partial void PartitionReserved(ILogger logger, string partition, PartitionRole role, string replica, string disk);

    [LoggerMessage(1014, LogLevel.Warning, "Application {AppId}: writing the ShuffleGrain's state failed; this activation goes and the next one reloads it")]
    public static partial void StateWriteFailed(ILogger logger, Exception error, string appId);

    [LoggerMessage(1015, LogLevel.Warning, "Application {AppId}: {Active} active silo(s), so new partition epochs get no replica although the shuffle asks for one")]
    public static partial void NoSiloForReplica(ILogger logger, string appId, int active);

    [LoggerMessage(1016, LogLevel.Warning, "Storage directory {Disk} takes no new partitions: {Problem}")]
    public static partial void DiskExcluded(ILogger logger, string disk, string problem);

    [LoggerMessage(1017, LogLevel.Information, "Storage directory {Disk} passed its check and takes partitions again ({Slots} slots)")]
    public static partial void DiskRecovered(ILogger logger, string disk, int slots);

    [LoggerMessage(1018, LogLevel.Warning, "Application {AppId}: shuffle {ShuffleId} refused, over the slot quota (holds {Held}, wants {Wanted}, may hold {Quota})")]
    public static partial void QuotaExceeded(ILogger logger, string appId, int shuffleId, int held, int wanted, long quota);

    [LoggerMessage(1019, LogLevel.Warning, "Application {AppId}: partition {ShuffleId}/{PartitionId} found no room away from the silos the writer excluded ({Excluded}); placing it among all Active silos")]
    public static partial void ExclusionsIgnored(ILogger logger, string appId, int shuffleId, int partitionId, string excluded);

    [LoggerMessage(1020, LogLevel.Warning, "Refused {Method} on {Grain}: {Why}")]
    public static partial void CallRefused(ILogger logger, string method, string grain, string why);
}
