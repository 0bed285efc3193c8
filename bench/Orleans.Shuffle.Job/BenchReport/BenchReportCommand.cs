using System.CommandLine;
using System.Text.Json;

namespace Orleans.Shuffle.Job.BenchReport;

/// <summary>
/// The "bench-report" subcommand: turns what scripts/bench.sh left in its output directory (sitting.txt
/// and runs/*/ with run.txt, report.json and cpu.log) into bench.json, bench.md and bench.svg there.
/// In C# rather than a script language because a fresh machine has the .NET SDK and not necessarily Python.
/// </summary>
internal static class BenchReportCommand
{
    public const string Name = "bench-report";

    // Relaxed escaping: bench.json is read by people too, and "+" or "'" in a command line should stay readable.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly Option<string> Dir = new("--dir") { Description = "The output directory of scripts/bench.sh.", Required = true };

    public static Command Create()
    {
        var command = new Command(Name, "Summarize a scripts/bench.sh sitting: writes bench.json, bench.md and bench.svg into its directory.")
        {
            Options = { Dir },
        };
        command.SetAction(parse =>
        {
            try
            {
                var written = Write(parse.GetValue(Dir)!);
                Console.Out.WriteLine($"wrote {string.Join(", ", written)}");
                return ExitCodes.Verified;
            }
            catch (Exception e) when (e is BenchReportException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.Usage;
            }
        });
        return command;
    }

    /// <summary>Reads the sitting in <paramref name="directory"/> and writes the three reports; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string directory)
    {
        var (sitting, runs) = Read(directory);
        var summary = BenchSummary.Of(runs);
        var kinds = summary.Kinds.Select(k => k.Kind).ToList();
        string title = $"Throughput per run: {sitting.GetValueOrDefault("data") ?? "?"}, {sitting.GetValueOrDefault("maps") ?? "?"} maps x " +
            $"{sitting.GetValueOrDefault("reduces") ?? "?"} reduces, {sitting.GetValueOrDefault("cores") ?? "?"} cores";

        string json = Path.Combine(directory, "bench.json");
        string md = Path.Combine(directory, "bench.md");
        string svg = Path.Combine(directory, "bench.svg");
        File.WriteAllText(json, JsonSerializer.Serialize(new { sitting, runs, summary = summary.Kinds, gridToLocal = summary.GridToLocal }, Json) + Environment.NewLine);
        File.WriteAllText(md, BenchMarkdown.Render(sitting, runs, summary));
        File.WriteAllText(svg, BenchChart.Render(runs, kinds, title));
        return [json, md, svg];
    }

    public static (IReadOnlyDictionary<string, string> Sitting, IReadOnlyList<BenchRun> Runs) Read(string directory)
    {
        if (!Directory.Exists(directory)) throw new BenchReportException($"--dir {directory} does not exist.");
        string sittingPath = Path.Combine(directory, "sitting.txt");
        var sitting = File.Exists(sittingPath) ? KeyValueFile.Read(sittingPath) : new Dictionary<string, string>();
        string runsDirectory = Path.Combine(directory, "runs");
        var runs = (Directory.Exists(runsDirectory) ? Directory.GetDirectories(runsDirectory) : [])
            .Where(d => File.Exists(Path.Combine(d, "run.txt")))
            .Select(d => BenchRun.Read(directory, d))
            .OrderBy(r => r.Sequence)
            .ToList();
        if (runs.Count == 0) throw new BenchReportException($"{directory} holds no runs (runs/*/run.txt): is it an output directory of scripts/bench.sh?");
        return (sitting, runs);
    }
}

/// <summary>The directory is not one bench-report can read; the message says why.</summary>
internal sealed class BenchReportException(string message) : Exception(message);
