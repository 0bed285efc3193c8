namespace Orleans.Shuffle.Job.LocalShuffle;

/// <summary>
/// Decides which attempt of a map the reducers read, as the grid's MapperEnd does: the first attempt
/// to finish its files wins, and a later one is told the winner. The marker is a symbolic link
/// <c>map-M.winner</c> to the winning attempt's index: creating a link is atomic and fails if the name
/// exists, so there is no half-written marker to race with and no lock to leave behind when an
/// executor is killed.
/// </summary>
internal static class MapOutputCommit
{
    /// <summary>Commits attempt <paramref name="attemptId"/> of map <paramref name="mapId"/> unless another attempt did first; returns the winning attempt.</summary>
    public static int Commit(string directory, int mapId, int attemptId)
    {
        string marker = LocalShuffleFiles.WinnerPath(directory, mapId);
        try
        {
            // Relative: the shuffle directory can move (or be looked at from elsewhere) without breaking the link.
            File.CreateSymbolicLink(marker, LocalShuffleFiles.IndexName(mapId, attemptId));
            return attemptId;
        }
        catch (IOException) when (WinnerOf(directory, mapId) is int winner)
        {
            return winner;
        }
    }

    /// <summary>The attempt of map <paramref name="mapId"/> that committed, or null when none has.</summary>
    public static int? WinnerOf(string directory, int mapId)
    {
        var marker = new FileInfo(LocalShuffleFiles.WinnerPath(directory, mapId));
        return marker.LinkTarget is { } target ? LocalShuffleFiles.AttemptOfIndexName(mapId, Path.GetFileName(target)) : null;
    }
}
