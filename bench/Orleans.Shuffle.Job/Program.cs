using System.CommandLine;

namespace Orleans.Shuffle.Job;

/// <summary>Command wiring only: the job is the root command; workers are hidden subcommands of the same executable.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = JobCommand.Create();
        root.Subcommands.Add(WorkerCommands.CreateMapTaskCommand());
        root.Subcommands.Add(WorkerCommands.CreateReduceTaskCommand());
        var invocation = new InvocationConfiguration
        {
            // On Ctrl+C the job kills its workers and stops its silos; give that time to finish.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
        };
        return await root.Parse(args).InvokeAsync(invocation).ConfigureAwait(false);
    }
}
