using System.Globalization;

namespace Orleans.Shuffle.Job.LocalShuffle;

/// <summary>
/// The names of the local shuffle's files in its directory. Every attempt of a map writes files of
/// its own, so a killed attempt's half-written output is never read and never overwritten; the
/// winner marker of a map names the attempt whose files count (see <see cref="MapOutputCommit"/>).
/// </summary>
internal static class LocalShuffleFiles
{
    public static string DataPath(string directory, int mapId, int attemptId) => Path.Combine(directory, AttemptName(mapId, attemptId) + ".data");

    public static string IndexPath(string directory, int mapId, int attemptId) => Path.Combine(directory, IndexName(mapId, attemptId));

    public static string WinnerPath(string directory, int mapId) => Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"map-{mapId}.winner"));

    public static string IndexName(int mapId, int attemptId) => AttemptName(mapId, attemptId) + ".index";

    /// <summary>The attempt an index file name of map <paramref name="mapId"/> belongs to; null when it is not one.</summary>
    public static int? AttemptOfIndexName(int mapId, string name)
    {
        string prefix = string.Create(CultureInfo.InvariantCulture, $"map-{mapId}-attempt-");
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(".index", StringComparison.Ordinal)) return null;
        return int.TryParse(name.AsSpan(prefix.Length, name.Length - prefix.Length - ".index".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int attempt)
            ? attempt
            : null;
    }

    private static string AttemptName(int mapId, int attemptId) => string.Create(CultureInfo.InvariantCulture, $"map-{mapId}-attempt-{attemptId}");
}
