using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// The executor running a map killed with SIGKILL halfway through the map's pushes (--kill-mapper),
/// as a spot instance is lost: the driver reruns every task that executor was running as a new
/// attempt on another executor, and starts a new executor in its place. The grid now holds part of
/// the lost attempts and all of the reruns, and the readers must return every record exactly once.
/// The job verifies counts and checksums per partition, so a record read twice or not at all fails it.
/// </summary>
[Collection(SiloCollection.Name)]
public class MapperKillTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_map_executor_killed_mid_push_and_its_maps_rerun_is_read_exactly_once(int run)
    {
        using var temp = new TempDirectory("oshuffle-fault");
        // 4 maps on 4 executors, 4 at once: each executor runs one map, so exactly the victim is rerun.
        var result = await FaultJob.RunAsync(temp, ["--silos", "3", .. FaultJob.SmallJob(), "--executors", "4", "--replicas", "2", "--kill-mapper", "0.5"]);
        Assert.True(result.ExitCode == 0 && result.Verified, $"run {run}: the job did not verify.{Environment.NewLine}{result.Describe()}");
        Assert.Equal(result.Number("partitions"), result.Number("partitionsVerified"));
        Assert.True(result.Number("mapAttemptsRerun") == 1, $"run {run}: mapAttemptsRerun is not 1.{Environment.NewLine}{result.Describe()}");
        Assert.True(result.Number("executorsReplaced") == 1, $"run {run}: executorsReplaced is not 1.{Environment.NewLine}{result.Describe()}");
        Assert.True(result.Number("silosKilled") == 0, $"run {run}: a silo was killed.{Environment.NewLine}{result.Describe()}");
    }
}
