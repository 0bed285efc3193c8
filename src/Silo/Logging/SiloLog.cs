using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.Logging;

/// <summary>Source-generated log messages of the silo host and its data endpoint.</summary>
internal static partial class SiloLog
{
    [LoggerMessage(2001, LogLevel.Information, "Silo {Name} ({Identity}) is Active: gateway {Gateway}, data {Data}, http {Http}")]
    public static partial void SiloActive(ILogger logger, string name, string identity, string gateway, string data, string http);

    [LoggerMessage(2003, LogLevel.Information, "Deleted {Count} partition files an earlier incarnation of this silo left on its disks")]
    public static partial void LeftoversDeleted(ILogger logger, int count);

    [LoggerMessage(2002, LogLevel.Warning, "The parent process {ParentPid} is gone; stopping this silo")]
    public static partial void ParentGone(ILogger logger, int parentPid);

    [LoggerMessage(2101, LogLevel.Information, "Data connection {ConnectionId} from {Remote}: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, string? remote, string reason);

    [LoggerMessage(2102, LogLevel.Warning, "Refused {Type} from {Remote}: {Code} {Message}")]
    public static partial void RequestRefused(ILogger logger, MessageType type, string? remote, GridErrorCode code, string message);

    [LoggerMessage(2103, LogLevel.Error, "{Type} from {Remote} failed")]
    public static partial void RequestFailed(ILogger logger, Exception error, MessageType type, string? remote);
}
