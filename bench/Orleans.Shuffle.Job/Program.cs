using System.CommandLine;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Command wiring only: the job is the root command; executors are a hidden subcommand of the same
/// executable, and bench-report summarizes a scripts/bench.sh sitting.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = JobCommand.Create();
        root.Subcommands.Add(Executors.ExecutorCommand.Create());
        root.Subcommands.Add(BenchReport.BenchReportCommand.Create());
        var invocation = new InvocationConfiguration
        {
            // On Ctrl+C the job stops its executors and its silos; give that time to finish.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
        };
        return await root.Parse(args).InvokeAsync(invocation).ConfigureAwait(false);
    }
}
