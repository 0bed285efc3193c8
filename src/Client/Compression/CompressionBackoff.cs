namespace Orleans.Shuffle.Client.Compression;

/// <summary>
/// Which sealed batches a writer tries to compress. Records that did not shrink (random bytes,
/// encrypted or already compressed values) will most likely not shrink in the next batch either,
/// and trying costs the writer about as much CPU as the rest of its work: after each batch that did
/// not shrink, the writer skips twice as many as the last time (1, 2, 4, ... at most
/// <see cref="MaxSkip"/>) before it tries again, and a batch that shrinks resets that. On
/// incompressible data about one batch in <see cref="MaxSkip"/> + 1 is tried; on compressible data, all.
/// One backoff serves all of a writer's partitions: a map's records are usually alike.
/// </summary>
internal struct CompressionBackoff
{
    public const int MaxSkip = 64;

    private int _skipLeft;
    private int _nextSkip;

    /// <summary>True when this batch should be tried; a false counts towards the next try.</summary>
    public bool ShouldTry()
    {
        if (_skipLeft == 0) return true;
        _skipLeft--;
        return false;
    }

    public void Shrank() => _nextSkip = 0;

    public void DidNotShrink()
    {
        _nextSkip = _nextSkip == 0 ? 1 : Math.Min(_nextSkip * 2, MaxSkip);
        _skipLeft = _nextSkip;
    }
}
