using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Faults;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Job;

/// <summary>
/// The job tool as a real process with --shuffle local: no silos, executor processes writing one data
/// file and index per map and reading them back, every partition verified as on the grid.
/// </summary>
[Collection(SiloCollection.Name)]
public class LocalShuffleJobTests
{
    private static readonly string[] SmallLocalJob = ["--shuffle", "local", "--data", "4MiB", "--maps", "3", "--reduces", "3", "--no-progress", "--task-timeout", "150"];

    [Fact]
    public async Task The_local_shuffle_verifies_every_partition()
    {
        using var temp = new TempDirectory("oshuffle-local");
        var result = await FaultJob.RunAsync(temp, SmallLocalJob);
        Assert.True(result.ExitCode == 0 && result.Verified, $"the job did not verify.{Environment.NewLine}{result.Describe()}");
        var report = result.Report!.Value;
        Assert.Equal("local", report.GetProperty("shuffle").GetString());
        Assert.Equal(3, result.Number("partitions"));
        Assert.Equal(result.Number("partitions"), result.Number("partitionsVerified"));
        Assert.Equal(0, result.Number("silos"));
        Assert.False(report.GetProperty("cacheDropped").GetBoolean());
        Assert.True(report.GetProperty("throughputMBps").GetDouble() > 0, result.Describe());
        // One data file, one index and one winner marker per map.
        Assert.Equal(3, Directory.GetFiles(temp.Combine("work", "shuffle"), "*.data").Length);
    }

    [Fact]
    public async Task A_map_whose_executor_is_killed_is_rerun_into_its_own_files_and_read_once()
    {
        using var temp = new TempDirectory("oshuffle-local");
        // 3 maps on 3 executors, 3 at once: each executor runs one map, so exactly the victim is rerun.
        var result = await FaultJob.RunAsync(temp, [.. SmallLocalJob, "--executors", "3", "--kill-mapper", "0.5"]);
        Assert.True(result.ExitCode == 0 && result.Verified, $"the job did not verify.{Environment.NewLine}{result.Describe()}");
        Assert.Equal(result.Number("partitions"), result.Number("partitionsVerified"));
        Assert.True(result.Number("mapAttemptsRerun") == 1, $"mapAttemptsRerun is not 1.{Environment.NewLine}{result.Describe()}");
        string shuffle = temp.Combine("work", "shuffle");
        // The killed attempt's partial data file stays where it was; the winner is the rerun.
        Assert.True(File.Exists(Path.Combine(shuffle, "map-0-attempt-0.data")));
        Assert.Equal(1, Orleans.Shuffle.Job.LocalShuffle.MapOutputCommit.WinnerOf(shuffle, 0));
    }
}
