using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// A map worker killed with SIGKILL halfway through its pushes (--kill-mapper) and rerun by the
/// driver as attempt 1: the grid now holds half of attempt 0 and all of attempt 1, and the readers
/// must return every record exactly once. The job verifies counts and checksums per partition, so a
/// record read twice or not at all fails it.
/// </summary>
[Collection(SiloCollection.Name)]
public class MapperKillTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_map_worker_killed_mid_push_and_rerun_is_read_exactly_once(int run)
    {
        using var temp = new TempDirectory("oshuffle-fault");
        var result = await FaultJob.RunAsync(temp, ["--silos", "3", .. FaultJob.SmallJob(), "--replicas", "2", "--kill-mapper", "0.5"]);
        Assert.True(result.ExitCode == 0 && result.Verified, $"run {run}: the job did not verify.{Environment.NewLine}{result.Describe()}");
        Assert.Equal(result.Number("partitions"), result.Number("partitionsVerified"));
        Assert.True(result.Number("mapAttemptsRerun") == 1, $"run {run}: mapAttemptsRerun is not 1.{Environment.NewLine}{result.Describe()}");
        Assert.True(result.Number("silosKilled") == 0, $"run {run}: a silo was killed.{Environment.NewLine}{result.Describe()}");
    }
}
