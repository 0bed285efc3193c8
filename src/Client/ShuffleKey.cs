namespace Orleans.Shuffle.Client;

/// <summary>One shuffle of one application: the key of the client's per-shuffle caches.</summary>
internal readonly record struct ShuffleKey(string AppId, int ShuffleId)
{
    public override string ToString() => $"shuffle {ShuffleId} of application '{AppId}'";
}
