using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// The main job on three real silo processes, one of which the job stops with SIGSTOP (--hang-silo)
/// at 30 % of a stage and resumes with SIGCONT after the job: a hung process whose kernel still
/// accepts its connections. With two copies of every partition the job must verify every record
/// before any task runs into its timeout (150 s), as half the jobs did before pushes and fetches
/// timed out in seconds and the hung silo was voted Dead at once. How many seconds the stop costs is
/// measured by scripts/soak.sh against runs without it, not asserted here.
/// </summary>
[Collection(SiloCollection.Name)]
public class SiloHangTests
{
    [Theory]
    [InlineData("map:0.3")]
    [InlineData("reduce:0.3")]
    public async Task A_silo_hung_mid_stage_loses_nothing_and_no_task_times_out(string hang)
    {
        using var temp = new TempDirectory("oshuffle-hang");
        var result = await FaultJob.RunAsync(temp, ["--silos", "3", .. FaultJob.SmallJob("64MiB"), "--replicas", "2", "--hang-silo", hang,
            "--silo-arg=--Storage:ChunkBytes=1048576"]);
        Assert.True(result.ExitCode == 0 && result.Verified, "the job did not verify." + Environment.NewLine + result.Describe());
        Assert.Equal(result.Number("partitions"), result.Number("partitionsVerified"));
        Assert.True(result.Number("silosHung") == 1, $"silosHung is not 1.{Environment.NewLine}{result.Describe()}");
    }
}
