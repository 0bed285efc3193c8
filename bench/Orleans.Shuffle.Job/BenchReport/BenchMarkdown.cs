using System.Globalization;
using System.Text;

namespace Orleans.Shuffle.Job.BenchReport;

/// <summary>bench.md: when and where the sitting ran, with what command, every run, and the summary, as Markdown tables.</summary>
internal static class BenchMarkdown
{
    public static string Render(IReadOnlyDictionary<string, string> sitting, IReadOnlyList<BenchRun> runs, BenchSummary summary)
    {
        var c = CultureInfo.InvariantCulture;
        string Get(string key) => sitting.GetValueOrDefault(key) ?? "?";
        var md = new StringBuilder();
        md.AppendLine("# Side-by-side shuffle benchmark: grid against local files");
        md.AppendLine();
        md.AppendLine(c, $"- **When:** {Get("started")} to {Get("finished")}");
        md.AppendLine(c, $"- **Machine:** {Get("cores")} cores ({Get("cpuModel")}), {MemoryGiB(Get("memTotalKiB"))} memory (MemTotal of /proc/meminfo), Linux {Get("kernel")}");
        md.AppendLine(c, $"- **Command:** `{Get("command")}`");
        md.AppendLine(c, $"- **Each run:** `{Get("jobArgs")}`, bounded by `timeout {Get("timeoutSeconds")}`, measured by scripts/cpu-by-role.sh");
        int dropped = runs.Count(r => r.CacheDropped);
        string why = dropped == runs.Count ? "" : Get("root") == "1" ? " (see the runs' cpu.log for why not)" : " (not root: the reduce stages read a warm cache)";
        md.AppendLine(c, $"- **Page cache:** dropped between the map and the reduce stage in {dropped} of {runs.Count} runs{why}");
        md.AppendLine("- Throughput is record bytes / (map + reduce seconds). CPU is user + system seconds of every process over its life " +
            "(start-up included), per role; per GiB divides by the record bytes. \"During the job\" counts the silos from the grid being ready to the end " +
            "of the reduce stage only, as a grid running as a service would see the job (their start-up belongs to no job); executors and driver " +
            "count over their lives in both. Only runs that exited 0, verified every partition and were measured to the end count in the summary.");
        md.AppendLine();
        md.AppendLine("![throughput per run](bench.svg)");
        md.AppendLine();
        md.AppendLine("## Summary");
        md.AppendLine();
        md.AppendLine("| kind | runs counted | MB/s min / median / max | CPU-s per GiB min / median / max | CPU-s per GiB, silos during the job, min / median / max | executor CPU-s/GiB median | silo CPU-s/GiB median | silo CPU-s/GiB during the job median | driver CPU-s/GiB median | silo peak RSS MiB median |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var kind in summary.Kinds)
        {
            md.AppendLine(c, $"| {kind.Kind} | {kind.RunsCounted} of {kind.Runs} | {Spread(kind.ThroughputMBps, "0.0")} | {Spread(kind.CpuSecondsPerGiB, "0.00")} | " +
                $"{Spread(kind.JobCpuSecondsPerGiB, "0.00")} | {Median(kind.ExecutorCpuSecondsPerGiB)} | {Median(kind.SiloCpuSecondsPerGiB)} | " +
                $"{Median(kind.SiloCpuSecondsPerGiBDuringJob)} | {Median(kind.DriverCpuSecondsPerGiB)} | {Median(kind.SiloPeakRssMiB, "0")} |");
        }
        md.AppendLine();
        if (summary.GridToLocal.Count > 0)
        {
            md.AppendLine("| grid / local (medians) | throughput | CPU-s per GiB | CPU-s per GiB, silos during the job |");
            md.AppendLine("|---|---|---|---|");
            foreach (var ratio in summary.GridToLocal)
                md.AppendLine(c, $"| {ratio.Kind} | {Format(ratio.ThroughputRatio, "0.00")} | {Format(ratio.CpuPerGiBRatio, "0.00")} | {Format(ratio.JobCpuPerGiBRatio, "0.00")} |");
            md.AppendLine();
        }
        md.AppendLine("## Runs");
        md.AppendLine();
        md.AppendLine("| # | run | kind | replicas | exit | verified | MB/s | map s | reduce s | CPU-s executor / silo / driver / total | CPU-s per GiB executor / silo / driver / total | silo peak RSS MiB (max HWM) | cache dropped | directory |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var run in runs)
        {
            var perGiB = run.CpuSecondsPerGiB;
            md.AppendLine(c, $"| {run.Sequence} | {run.Run} | {run.Kind} | {run.Replicas} | {run.ExitCode} | {(run.Verified ? "yes" : "**no**")} | " +
                $"{run.ThroughputMBps:0.0} | {run.MapSeconds:0.00} | {run.ReduceSeconds:0.00} | {Roles(run.CpuSeconds)} | {(perGiB is null ? "-" : Roles(perGiB))} | " +
                $"{(run.Shuffle == "grid" ? string.Create(c, $"{run.SiloPeakRssKiB / 1024.0:0} ({run.SiloMaxHwmKiB / 1024.0:0})") : "-")} | " +
                $"{(run.CacheDropped ? "yes" : "no")} | {run.Directory} |");
        }
        var failed = runs.Where(r => r.Error is not null).ToList();
        if (failed.Count > 0)
        {
            md.AppendLine();
            foreach (var run in failed) md.AppendLine(c, $"- run {run.Sequence} ({run.Kind}): {run.Error!.ReplaceLineEndings(" ")}");
        }
        return md.ToString();
    }

    private static string Roles(RoleFigures f) => string.Create(CultureInfo.InvariantCulture, $"{f.Executor:0.00} / {f.Silo:0.00} / {f.Driver:0.00} / {f.Total:0.00}");

    private static string Spread(Spread? s, string format) =>
        s is null ? "-" : $"{s.Min.ToString(format, CultureInfo.InvariantCulture)} / **{s.Median.ToString(format, CultureInfo.InvariantCulture)}** / {s.Max.ToString(format, CultureInfo.InvariantCulture)}";

    private static string Median(Spread? s, string format = "0.00") => Format(s?.Median, format);

    private static string Format(double? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "-";

    private static string MemoryGiB(string kib) =>
        long.TryParse(kib, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? string.Create(CultureInfo.InvariantCulture, $"{value / 1048576.0:0.0} GiB") : "? GiB";
}
