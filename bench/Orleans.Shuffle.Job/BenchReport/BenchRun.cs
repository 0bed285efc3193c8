using System.Globalization;
using System.Text.Json;

namespace Orleans.Shuffle.Job.BenchReport;

/// <summary>
/// One run of scripts/bench.sh, read from its directory: run.txt (what the script ran and how it
/// ended), report.json (the job's --report) and cpu.log (scripts/cpu-by-role.sh's lines).
/// </summary>
internal sealed record BenchRun
{
    public const double GiB = 1L << 30;

    public required int Sequence { get; init; }

    public required int Run { get; init; }

    /// <summary>grid-r1, grid-r2 or local: the shuffle and, on the grid, the copies of each partition.</summary>
    public required string Kind { get; init; }

    public required string Shuffle { get; init; }

    public required int Replicas { get; init; }

    public required int ExitCode { get; init; }

    public double WallSeconds { get; init; }

    public bool Verified { get; init; }

    public double ThroughputMBps { get; init; }

    public double MapSeconds { get; init; }

    public double ReduceSeconds { get; init; }

    public long Bytes { get; init; }

    public bool CacheDropped { get; init; }

    public required RoleFigures CpuSeconds { get; init; }

    /// <summary>CPU-seconds per GiB of record bytes shuffled; null when the run has no report to say how many bytes.</summary>
    public RoleFigures? CpuSecondsPerGiB => Bytes > 0 ? CpuSeconds.Per(Bytes / GiB) : null;

    /// <summary>The silos' CPU-seconds from the grid being ready to the end of the reduce stage (the job's report); 0 for the local shuffle.</summary>
    public double SiloCpuSecondsDuringJob { get; init; }

    /// <summary>
    /// CPU-seconds per GiB as a grid running as a service sees it: executors and driver over their
    /// lives, the silos during the job only (their start-up belongs to no job). Null without bytes.
    /// </summary>
    public RoleFigures? JobCpuSecondsPerGiB => Bytes > 0 ? (CpuSeconds with { Silo = SiloCpuSecondsDuringJob }).Per(Bytes / GiB) : null;

    /// <summary>Most the silos held at once (sum of their VmRSS in one sample), KiB; 0 without silos.</summary>
    public long SiloPeakRssKiB { get; init; }

    /// <summary>The largest VmHWM of any one silo, KiB.</summary>
    public long SiloMaxHwmKiB { get; init; }

    public string? Error { get; init; }

    /// <summary>The run's directory, relative to the benchmark's output directory.</summary>
    public required string Directory { get; init; }

    /// <summary>A run that counts in the summary: the job exited 0, verified, and its CPU was measured to the end.</summary>
    public bool Counts { get; init; }

    public static BenchRun Read(string outputDirectory, string runDirectory)
    {
        var run = KeyValueFile.Read(Path.Combine(runDirectory, "run.txt"));
        JsonElement? report = null;
        string reportPath = Path.Combine(runDirectory, "report.json");
        if (File.Exists(reportPath))
        {
            try
            {
                using var json = JsonDocument.Parse(File.ReadAllText(reportPath));
                report = json.RootElement.Clone();
            }
            catch (JsonException)
            {
                // A report cut off by the timeout: the run failed, the table says so.
            }
        }
        string cpuPath = Path.Combine(runDirectory, "cpu.log");
        var cpu = CpuLog.Parse(File.Exists(cpuPath) ? File.ReadLines(cpuPath) : []);
        var silo = cpu.Rss.GetValueOrDefault("silo");
        int exitCode = Int(run, "exitCode", -1);
        bool verified = report is { } r && r.TryGetProperty("verified", out var v) && v.ValueKind == JsonValueKind.True;
        return new BenchRun
        {
            Sequence = Int(run, "seq", 0),
            Run = Int(run, "run", 0),
            Kind = run.GetValueOrDefault("kind") ?? "unknown",
            Shuffle = run.GetValueOrDefault("shuffle") ?? "grid",
            Replicas = Int(run, "replicas", 0),
            ExitCode = exitCode,
            WallSeconds = double.TryParse(run.GetValueOrDefault("wallSeconds"), NumberStyles.Float, CultureInfo.InvariantCulture, out double wall) ? wall : 0,
            Verified = verified,
            ThroughputMBps = Number(report, "throughputMBps"),
            MapSeconds = Number(report, "mapSeconds"),
            ReduceSeconds = Number(report, "reduceSeconds"),
            Bytes = (long)Number(report, "bytes"),
            CacheDropped = report is { } d && d.TryGetProperty("cacheDropped", out var c) && c.ValueKind == JsonValueKind.True,
            CpuSeconds = cpu.CpuSeconds,
            SiloCpuSecondsDuringJob = Number(report, "siloCpuSecondsDuringJob"),
            SiloPeakRssKiB = silo.PeakSumKiB,
            SiloMaxHwmKiB = silo.MaxHwmKiB,
            Error = report is { } e && e.TryGetProperty("error", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString()
                : report is null ? $"no report (exit code {exitCode}{(exitCode == 124 ? ": timed out" : "")})" : null,
            Directory = Path.GetRelativePath(outputDirectory, runDirectory),
            Counts = exitCode == 0 && verified && cpu.Complete,
        };
    }

    private static int Int(IReadOnlyDictionary<string, string> values, string key, int fallback) =>
        int.TryParse(values.GetValueOrDefault(key), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value : fallback;

    private static double Number(JsonElement? report, string property) =>
        report is { } r && r.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : 0;
}
