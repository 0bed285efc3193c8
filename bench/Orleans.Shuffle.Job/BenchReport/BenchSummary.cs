namespace Orleans.Shuffle.Job.BenchReport;

/// <summary>Smallest, median (the mean of the middle two for an even count) and largest of some figures.</summary>
internal sealed record Spread(double Min, double Median, double Max)
{
    public static Spread? Of(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0) return null;
        int middle = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new Spread(sorted[0], median, sorted[^1]);
    }
}

/// <summary>The runs of one kind that count (exited 0, verified, CPU measured to the end), summarized.</summary>
internal sealed record KindSummary(
    string Kind,
    int Runs,
    int RunsCounted,
    Spread? ThroughputMBps,
    Spread? CpuSecondsPerGiB,
    Spread? ExecutorCpuSecondsPerGiB,
    Spread? SiloCpuSecondsPerGiB,
    Spread? DriverCpuSecondsPerGiB,
    Spread? SiloPeakRssMiB,
    Spread? JobCpuSecondsPerGiB,
    Spread? SiloCpuSecondsPerGiBDuringJob);

/// <summary>
/// A grid kind against the local baseline, median to median: throughput grid / local (below 1: the grid is
/// slower) and CPU-seconds per GiB grid / local (above 1: the grid costs more CPU for the same bytes).
/// </summary>
/// <param name="JobCpuPerGiBRatio">As <paramref name="CpuPerGiBRatio"/>, with the silos counted during the job only (<see cref="BenchRun.JobCpuSecondsPerGiB"/>).</param>
internal sealed record GridToLocal(string Kind, double? ThroughputRatio, double? CpuPerGiBRatio, double? JobCpuPerGiBRatio);

internal sealed record BenchSummary(IReadOnlyList<KindSummary> Kinds, IReadOnlyList<GridToLocal> GridToLocal)
{
    public const string LocalKind = "local";

    /// <summary>Kinds in the order the sitting first ran them.</summary>
    public static BenchSummary Of(IReadOnlyList<BenchRun> runs)
    {
        var kinds = runs.OrderBy(r => r.Sequence).Select(r => r.Kind).Distinct(StringComparer.Ordinal).Select(kind =>
        {
            var all = runs.Where(r => r.Kind == kind).ToList();
            var counted = all.Where(r => r.Counts).ToList();
            return new KindSummary(
                kind, all.Count, counted.Count,
                Spread.Of(counted.Select(r => r.ThroughputMBps)),
                PerGiB(counted, f => f.Total),
                PerGiB(counted, f => f.Executor),
                PerGiB(counted, f => f.Silo),
                PerGiB(counted, f => f.Driver),
                Spread.Of(counted.Where(r => r.Shuffle == "grid").Select(r => r.SiloPeakRssKiB / 1024.0)),
                Spread.Of(counted.Where(r => r.JobCpuSecondsPerGiB is not null).Select(r => r.JobCpuSecondsPerGiB!.Total)),
                Spread.Of(counted.Where(r => r.JobCpuSecondsPerGiB is not null).Select(r => r.JobCpuSecondsPerGiB!.Silo)));
        }).ToList();

        var local = kinds.FirstOrDefault(k => k.Kind == LocalKind);
        var ratios = kinds.Where(k => k.Kind != LocalKind).Select(k => new GridToLocal(
            k.Kind,
            Ratio(k.ThroughputMBps?.Median, local?.ThroughputMBps?.Median),
            Ratio(k.CpuSecondsPerGiB?.Median, local?.CpuSecondsPerGiB?.Median),
            Ratio(k.JobCpuSecondsPerGiB?.Median, local?.JobCpuSecondsPerGiB?.Median))).ToList();
        return new BenchSummary(kinds, ratios);
    }

    private static Spread? PerGiB(IEnumerable<BenchRun> runs, Func<RoleFigures, double> role) =>
        Spread.Of(runs.Where(r => r.CpuSecondsPerGiB is not null).Select(r => role(r.CpuSecondsPerGiB!)));

    private static double? Ratio(double? grid, double? local) => grid is double g && local is double l && l > 0 ? g / l : null;
}
