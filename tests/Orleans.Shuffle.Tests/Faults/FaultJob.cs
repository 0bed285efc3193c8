using System.Text;
using System.Text.Json;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>What one run of the job tool left behind: its exit code, its --report and its output.</summary>
public sealed class FaultJobResult(int? exitCode, JsonElement? report, string output, string logs)
{
    public int? ExitCode { get; } = exitCode;

    /// <summary>The --report document; null if the job wrote none.</summary>
    public JsonElement? Report { get; } = report;

    public bool Verified => Report?.GetProperty("verified").GetBoolean() ?? false;

    public string? Error => Report is { } r && r.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;

    public long Number(string property) => Report is { } r && r.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number
        ? value.GetInt64()
        : throw new Xunit.Sdk.XunitException($"the report has no number '{property}'.{Environment.NewLine}{Describe()}");

    /// <summary>Everything needed to see why a run went wrong: exit code, report, output and the tails of the silo and executor logs.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine(ExitCode is null ? "the job did not finish in time and was killed" : $"exit code {ExitCode}");
        text.AppendLine("report: " + (Report?.ToString() ?? "(none)"));
        text.AppendLine("output:");
        text.AppendLine(output);
        if (logs.Length > 0) text.AppendLine(logs);
        return text.ToString();
    }
}

/// <summary>
/// Runs bench/Orleans.Shuffle.Job as a real process, like <see cref="Integration.MainJobProcessTests"/>,
/// with the silo of the same build configuration, a work directory of the test's own, and a
/// bounded wait after which the job and everything it started are killed.
/// </summary>
public static class FaultJob
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    /// <summary>The arguments every fault run shares: small data, 4 maps, 4 reduces, plain output.</summary>
    public static IEnumerable<string> SmallJob(string data = "16MiB") =>
        ["--maps", "4", "--reduces", "4", "--data", data, "--no-progress", "--task-timeout", "150"];

    public static async Task<FaultJobResult> RunAsync(TempDirectory temp, IEnumerable<string> arguments)
    {
        Assert.True(File.Exists(RepoPaths.JobDll), $"{RepoPaths.JobDll} is not built");
        Assert.True(File.Exists(RepoPaths.SiloDll), $"{RepoPaths.SiloDll} is not built");
        string report = temp.Combine("report.json");
        string work = temp.Combine("work");
        using var job = ChildProcess.Start(RepoPaths.DotnetExecutable(),
            [RepoPaths.JobDll, .. arguments, "--report", report, "--work-dir", work],
            new Dictionary<string, string> { ["SHUFFLE_SILO_DLL"] = RepoPaths.SiloDll },
            workingDirectory: temp.Path);
        int? exit = await job.WaitForExitAsync(Timeout);

        JsonElement? document = null;
        if (File.Exists(report))
        {
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(report));
            document = json.RootElement.Clone();
        }
        bool fine = exit == 0 && document is { } d && d.GetProperty("verified").GetBoolean();
        return new FaultJobResult(exit, document, job.Tail(80), fine ? "" : LogTails(Path.Combine(work, "logs")));
    }

    /// <summary>The last lines of every log in the job's log directory (silos and executors).</summary>
    public static string LogTails(string directory, int lines = 25)
    {
        if (!Directory.Exists(directory)) return "";
        var text = new StringBuilder();
        foreach (string log in Directory.GetFiles(directory, "*.log").Order(StringComparer.Ordinal))
        {
            string[] all;
            try
            {
                all = File.ReadAllLines(log);
            }
            catch (IOException)
            {
                continue;
            }
            text.AppendLine($"--- {Path.GetFileName(log)} (last {Math.Min(lines, all.Length)} of {all.Length} lines)");
            foreach (string line in all.TakeLast(lines)) text.AppendLine("  " + line);
        }
        return text.ToString();
    }
}
