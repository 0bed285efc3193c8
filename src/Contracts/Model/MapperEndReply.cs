namespace Orleans.Shuffle.Model;

/// <summary>Whether this attempt won its map (the first attempt to end wins), which attempt did, and whether every map has ended.</summary>
[GenerateSerializer, Immutable]
public readonly record struct MapperEndReply(bool Won, int WinningAttempt, bool AllMapsEnded);
