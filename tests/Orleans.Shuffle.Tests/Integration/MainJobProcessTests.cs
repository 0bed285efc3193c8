using System.Text.Json;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>The main job tool as a real process: it starts three silo processes and map and reduce tasks in executor processes.</summary>
[Collection(SiloCollection.Name)]
public class MainJobProcessTests
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task The_job_runs_on_three_silo_processes_and_verifies_every_partition()
    {
        Assert.True(File.Exists(RepoPaths.JobDll), $"{RepoPaths.JobDll} is not built");
        Assert.True(File.Exists(RepoPaths.SiloDll), $"{RepoPaths.SiloDll} is not built");
        using var temp = new TempDirectory("oshuffle-job");
        string report = temp.Combine("report.json");

        using var job = ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.JobDll,
            "--silos", "3", "--maps", "4", "--reduces", "4", "--data", "8MiB",
            "--report", report, "--no-progress",
            "--work-dir", temp.Combine("work"),
            "--task-timeout", "240",
        ],
        // The silo of this build configuration, not whichever the tool would find first.
        new Dictionary<string, string> { ["SHUFFLE_SILO_DLL"] = RepoPaths.SiloDll },
        workingDirectory: temp.Path);

        int? exit = await job.WaitForExitAsync(JobTimeout);
        Assert.True(exit is not null, $"the job did not finish within {JobTimeout}; killed. Output:{Environment.NewLine}{job.Tail()}");
        Assert.True(exit == 0, $"the job exited with {exit}. Output:{Environment.NewLine}{job.Tail()}");
        Assert.True(File.Exists(report), $"no report at {report}. Output:{Environment.NewLine}{job.Tail()}");

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(report));
        var root = json.RootElement;
        Assert.True(root.GetProperty("verified").GetBoolean(), root.ToString());
        Assert.Equal(3, root.GetProperty("silos").GetInt32());
        Assert.True(root.GetProperty("records").GetInt64() > 0);
        Assert.True(root.GetProperty("bytes").GetInt64() > 0);
        Assert.Equal(4, root.GetProperty("mappers").GetInt32());
        Assert.Equal(4, root.GetProperty("reducers").GetInt32());
        Assert.Equal(root.GetProperty("partitions").GetInt32(), root.GetProperty("partitionsVerified").GetInt32());
        Assert.Equal(0, root.GetProperty("partitionsFailed").GetArrayLength());
    }
}
