using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.Logging;

/// <summary>Source-generated log messages of the silo runtime.</summary>
internal static partial class SiloLog
{
    [LoggerMessage(2001, LogLevel.Information, "Silo {Name} ({Identity}) is Active: grid {Grid}, http {Http}")]
    public static partial void SiloActive(ILogger logger, string name, string identity, string grid, string http);

    [LoggerMessage(2002, LogLevel.Warning, "Declared silo {Silo} dead: no IAmAlive since {IAmAlive:O}")]
    public static partial void DeclaredDead(ILogger logger, string silo, DateTimeOffset iAmAlive);

    [LoggerMessage(2003, LogLevel.Information, "Voted silo {Silo} suspect ({Votes} of {Needed} votes)")]
    public static partial void VotedSuspect(ILogger logger, string silo, int votes, int needed);

    [LoggerMessage(2004, LogLevel.Error, "This silo {Silo} is declared dead in the membership table; stopping")]
    public static partial void SelfDeclaredDead(ILogger logger, string silo);

    [LoggerMessage(2005, LogLevel.Warning, "Membership table operation failed")]
    public static partial void TableFailure(ILogger logger, Exception error);

    [LoggerMessage(2006, LogLevel.Information, "Marked older incarnation {Silo} of this endpoint dead")]
    public static partial void OldIncarnationDead(ILogger logger, string silo);

    [LoggerMessage(2101, LogLevel.Information, "Connection {ConnectionId} from {Remote}: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, string? remote, string reason);

    [LoggerMessage(2102, LogLevel.Warning, "Refused {Type} from {Remote}: {Code} {Message}")]
    public static partial void RequestRefused(ILogger logger, MessageType type, string? remote, ErrorCode code, string message);

    [LoggerMessage(2103, LogLevel.Error, "{Type} from {Remote} failed")]
    public static partial void RequestFailed(ILogger logger, Exception error, MessageType type, string? remote);

    [LoggerMessage(2202, LogLevel.Warning, "Expiring application {AppId} failed; the next sweep tries again")]
    public static partial void ExpiryFailed(ILogger logger, Exception error, string appId);

    [LoggerMessage(2201, LogLevel.Information, "Application {AppId} expired: no heartbeat since {LastActivity:O}")]
    public static partial void ApplicationExpired(ILogger logger, string appId, DateTimeOffset lastActivity);
}
