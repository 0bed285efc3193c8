using Orleans.Shuffle.Batches;

namespace Orleans.Shuffle.Client;

/// <summary>
/// The read filter that makes a partition read exactly once. Only batches of each map's winning
/// attempt are read (a winner of -1 means the map has no data to read); a batch seen before is a
/// duplicate (a push retried after a lost reply, or a batch in two epochs); maps outside
/// [startMap, endMap) are skipped. One instance per read of one partition; not thread-safe.
/// </summary>
public sealed class BatchDeduplicator
{
    private readonly int[] _winningAttempts;
    private readonly int _startMap;
    private readonly int _endMap;

    // Keyed by (map, batch id): the attempt is the map's winner, so it adds nothing to the key.
    private readonly HashSet<long> _seen = [];

    /// <param name="winningAttempts">Winning attempt per map id, as the file group gives it; not copied.</param>
    public BatchDeduplicator(int[] winningAttempts, int startMap = 0, int endMap = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(winningAttempts);
        ArgumentOutOfRangeException.ThrowIfNegative(startMap);
        ArgumentOutOfRangeException.ThrowIfLessThan(endMap, startMap);
        _winningAttempts = winningAttempts;
        _startMap = startMap;
        _endMap = endMap;
    }

    public BatchVerdict Check(in BatchHeader header)
    {
        int map = header.MapId;
        if (map < _startMap || map >= _endMap || map >= _winningAttempts.Length) return BatchVerdict.OutOfRange;
        int winner = _winningAttempts[map];
        if (winner < 0 || header.AttemptId != winner) return BatchVerdict.LosingAttempt;
        long key = ((long)map << 32) | (uint)header.BatchId;
        return _seen.Add(key) ? BatchVerdict.Read : BatchVerdict.Duplicate;
    }
}
