using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Ids;

/// <summary>
/// Validates every id that arrives from the network before it is used. Application ids end up as
/// directory names on storage disks, so they are restricted to a small alphabet that can never
/// form a path separator, "." or "..": the first character is a letter or digit, the rest are
/// letters, digits, '.', '_' or '-', and the length is 1 to 128.
/// </summary>
public static class IdValidator
{
    public const int MaxAppIdLength = 128;

    /// <summary>Upper bound on partitions per shuffle; keeps file groups and slot requests bounded.</summary>
    public const int MaxPartitions = 1_000_000;

    /// <summary>Upper bound on map tasks per shuffle; the ShuffleGrain keeps one int per map.</summary>
    public const int MaxMaps = 1_000_000;

    private static readonly SearchValues<char> AllowedRest =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

    public static bool IsValidAppId(string? appId)
    {
        if (string.IsNullOrEmpty(appId) || appId.Length > MaxAppIdLength) return false;
        if (!char.IsAsciiLetterOrDigit(appId[0])) return false;
        return !appId.AsSpan().ContainsAnyExcept(AllowedRest);
    }

    public static void ValidateAppId(string? appId)
    {
        if (!IsValidAppId(appId))
            throw new GridException(GridErrorCode.InvalidId,
                $"Invalid application id '{Truncate(appId)}': use 1-{MaxAppIdLength} characters of [A-Za-z0-9._-], starting with a letter or digit.");
    }

    public static void ValidateShuffleId(int shuffleId)
    {
        if (shuffleId < 0) throw new GridException(GridErrorCode.InvalidId, $"Invalid shuffle id {shuffleId}: must be >= 0.");
    }

    public static void ValidateShape(int numMaps, int numPartitions)
    {
        if (numMaps < 1 || numMaps > MaxMaps)
            throw new GridException(GridErrorCode.InvalidArgument, $"Invalid number of maps {numMaps}: must be 1..{MaxMaps}.");
        if (numPartitions < 1 || numPartitions > MaxPartitions)
            throw new GridException(GridErrorCode.InvalidArgument, $"Invalid number of partitions {numPartitions}: must be 1..{MaxPartitions}.");
    }

    public static void ValidatePartition(int partitionId, int epoch)
    {
        if (partitionId < 0 || partitionId >= MaxPartitions)
            throw new GridException(GridErrorCode.InvalidId, $"Invalid partition id {partitionId}.");
        if (epoch < 0) throw new GridException(GridErrorCode.InvalidId, $"Invalid epoch {epoch} for partition {partitionId}.");
    }

    public static void ValidateMapAttempt(int mapId, int attemptId)
    {
        if (mapId < 0 || mapId >= MaxMaps) throw new GridException(GridErrorCode.InvalidId, $"Invalid map id {mapId}.");
        if (attemptId < 0) throw new GridException(GridErrorCode.InvalidId, $"Invalid attempt id {attemptId} for map {mapId}.");
    }

    private static string Truncate(string? s) => s is null ? "<null>" : s.Length <= 64 ? s : s[..64] + "...";
}
