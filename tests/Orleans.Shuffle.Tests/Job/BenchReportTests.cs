using System.Globalization;
using System.Text.Json;
using Orleans.Shuffle.Job.BenchReport;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Tests.Job;

/// <summary>bench-report on a synthetic scripts/bench.sh directory: which runs count, medians, ratios and the files it writes.</summary>
public class BenchReportTests
{
    private const long TwoGiB = 2L << 30;

    [Fact]
    public void Medians_and_grid_to_local_ratios_count_only_verified_runs()
    {
        using var temp = new TempDirectory("oshuffle-bench");
        File.WriteAllLines(temp.Combine("sitting.txt"), ["started=2026-12-01T10:00:00Z", "cores=2", "memTotalKiB=8388608", "command=DATA=2GiB scripts/bench.sh 3", "root=1"]);
        // seq, round, kind, MB/s, total CPU-s (executor + silo + driver), exit code, verified
        Run(temp, 1, 1, "grid-r2", 10, (4, 10, 2), 0, true);
        Run(temp, 2, 1, "local", 50, (6, 0, 2), 0, true);
        Run(temp, 3, 2, "grid-r2", 30, (4, 14, 2), 0, true);
        Run(temp, 4, 2, "local", 40, (8, 0, 2), 0, true);
        Run(temp, 5, 3, "grid-r2", 20, (4, 20, 2), 0, true);
        // Fast but not verified: must not count.
        Run(temp, 6, 3, "local", 999, (1, 0, 1), 1, false);

        var (_, runs) = BenchReportCommand.Read(temp.Path);
        var summary = BenchSummary.Of(runs);
        Assert.Equal(["grid-r2", "local"], summary.Kinds.Select(k => k.Kind));

        var grid = summary.Kinds[0];
        Assert.Equal((3, 3), (grid.Runs, grid.RunsCounted));
        Assert.Equal(new Spread(10, 20, 30), grid.ThroughputMBps);
        // 16, 20 and 26 CPU-s over 2 GiB.
        Assert.Equal(new Spread(8, 10, 13), grid.CpuSecondsPerGiB);
        Assert.Equal(new Spread(5, 7, 10), grid.SiloCpuSecondsPerGiB);
        // The silos during the job (half their CPU here): 5, 7 and 10 CPU-s; with executors and driver 11, 13 and 16.
        Assert.Equal(new Spread(2.5, 3.5, 5), grid.SiloCpuSecondsPerGiBDuringJob);
        Assert.Equal(new Spread(5.5, 6.5, 8), grid.JobCpuSecondsPerGiB);

        var local = summary.Kinds[1];
        Assert.Equal((3, 2), (local.Runs, local.RunsCounted));
        // Two counted: the median is the mean of both.
        Assert.Equal(new Spread(40, 45, 50), local.ThroughputMBps);
        Assert.Equal(new Spread(4, 4.5, 5), local.CpuSecondsPerGiB);
        Assert.Null(local.SiloPeakRssMiB);

        var ratio = Assert.Single(summary.GridToLocal);
        Assert.Equal("grid-r2", ratio.Kind);
        Assert.Equal(20 / 45.0, ratio.ThroughputRatio!.Value, 9);
        Assert.Equal(10 / 4.5, ratio.CpuPerGiBRatio!.Value, 9);
        Assert.Equal(6.5 / 4.5, ratio.JobCpuPerGiBRatio!.Value, 9);

        var written = BenchReportCommand.Write(temp.Path);
        Assert.All(written, path => Assert.True(new FileInfo(path).Length > 0, path));
        using var json = JsonDocument.Parse(File.ReadAllText(temp.Combine("bench.json")));
        Assert.Equal(6, json.RootElement.GetProperty("runs").GetArrayLength());
        Assert.Equal(20, json.RootElement.GetProperty("summary")[0].GetProperty("throughputMBps").GetProperty("median").GetDouble());
        string md = File.ReadAllText(temp.Combine("bench.md"));
        Assert.Contains("| grid-r2 | 0.44 | 2.22 | 1.44 |", md);
        Assert.Contains("2 cores", md);
        Assert.Contains("<svg", File.ReadAllText(temp.Combine("bench.svg")));
    }

    [Fact]
    public void A_directory_without_runs_is_refused()
    {
        using var temp = new TempDirectory("oshuffle-bench");
        Assert.Throws<BenchReportException>(() => BenchReportCommand.Read(temp.Path));
        Assert.Equal(2, BenchReportCommand.Create().Parse(["--dir", temp.Combine("missing")]).Invoke());
    }

    private static void Run(TempDirectory temp, int seq, int round, string kind, double mbps, (double Executor, double Silo, double Driver) cpu, int exit, bool verified)
    {
        var c = CultureInfo.InvariantCulture;
        string dir = temp.Combine("runs", $"{seq:00}-{kind}");
        Directory.CreateDirectory(dir);
        string shuffle = kind == "local" ? "local" : "grid";
        File.WriteAllLines(Path.Combine(dir, "run.txt"),
            [$"seq={seq}", $"run={round}", $"kind={kind}", $"shuffle={shuffle}", "replicas=2", $"exitCode={exit}", "wallSeconds=12.5"]);
        File.WriteAllText(Path.Combine(dir, "report.json"), string.Create(c,
            $"{{\"verified\": {(verified ? "true" : "false")}, \"bytes\": {TwoGiB}, \"throughputMBps\": {mbps}, \"mapSeconds\": 1.5, \"reduceSeconds\": 2.5, \"shuffle\": \"{shuffle}\", \"cacheDropped\": true, \"siloCpuSecondsDuringJob\": {cpu.Silo / 2}}}"));
        string[] lines = [string.Create(c, $"cpu executor {cpu.Executor:0.00} 2"), string.Create(c, $"cpu driver {cpu.Driver:0.00} 1"), "rss driver 1000 900"];
        if (shuffle == "grid") lines = [string.Create(c, $"cpu silo {cpu.Silo:0.00} 3"), .. lines, "rss silo 307200 102400", "warning: something the job said on stderr"];
        File.WriteAllLines(Path.Combine(dir, "cpu.log"), lines);
    }
}
