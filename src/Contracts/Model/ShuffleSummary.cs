namespace Orleans.Shuffle.Model;

/// <summary>One shuffle as the ShuffleGrain describes it, for people (state page, job output).</summary>
[GenerateSerializer, Immutable]
public sealed record ShuffleSummary(
    int ShuffleId, ShuffleSpec Spec, int EndedMaps, string State, int Revives, IReadOnlyList<string> Silos);

/// <summary>An application's ShuffleGrain as it describes itself: the silo it runs on and its shuffles.</summary>
[GenerateSerializer, Immutable]
public sealed record ApplicationSummary(string AppId, string SiloIdentity, DateTimeOffset LastHeartbeat, IReadOnlyList<ShuffleSummary> Shuffles);
