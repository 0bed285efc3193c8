using System.Text.RegularExpressions;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// The main job on three real silo processes, one of which the job kills with SIGKILL (--kill-silo):
/// during the map stage, during the reduce stage, or the one hosting the ShuffleGrain between the
/// stages. With two copies of every partition the job must still verify every record; with one copy
/// it must stop with "shuffle data lost" naming the partitions, never return wrong data. Each
/// scenario runs twice; scripts/soak.sh runs them many more times.
/// </summary>
[Collection(SiloCollection.Name)]
public class SiloKillTests
{
    /// <param name="extra">Scenario arguments after the common ones.</param>
    private static async Task<FaultJobResult> RunAsync(params string[] extra)
    {
        using var temp = new TempDirectory("oshuffle-fault");
        return await FaultJob.RunAsync(temp, ["--silos", "3", .. FaultJob.SmallJob(), .. extra]);
    }

    private static void AssertVerified(FaultJobResult run)
    {
        Assert.True(run.ExitCode == 0 && run.Verified, "the job did not verify." + Environment.NewLine + run.Describe());
        Assert.Equal(run.Number("partitions"), run.Number("partitionsVerified"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_silo_killed_during_the_map_stage_loses_nothing_and_reruns_no_map(int run)
    {
        var result = await RunAsync("--replicas", "2", "--kill-silo", "map:0.5");
        AssertVerified(result);
        Assert.True(result.Number("silosKilled") == 1, $"run {run}: silosKilled is not 1.{Environment.NewLine}{result.Describe()}");
        Assert.True(result.Number("mapAttemptsRerun") == 0, $"run {run}: a map was rerun.{Environment.NewLine}{result.Describe()}");
        // Half of every map was still to be pushed when the silo died: the writers had to move partitions.
        Assert.True(result.Number("revives") > 0, $"run {run}: no writer revived a partition.{Environment.NewLine}{result.Describe()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_silo_killed_during_the_reduce_stage_loses_nothing(int run)
    {
        // 1 MiB chunks: each partition is several chunks, so the readers still have fetches to make after the kill.
        var result = await RunAsync("--replicas", "2", "--kill-silo", "reduce:0.2", "--silo-arg=--Storage:ChunkBytes=1048576");
        AssertVerified(result);
        Assert.True(result.Number("silosKilled") == 1, $"run {run}: silosKilled is not 1.{Environment.NewLine}{result.Describe()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task The_silo_hosting_the_ShuffleGrain_killed_between_map_end_and_reduce_loses_nothing(int run)
    {
        var result = await RunAsync("--replicas", "2", "--kill-silo", "grain");
        AssertVerified(result);
        Assert.True(result.Number("silosKilled") == 1, $"run {run}: silosKilled is not 1.{Environment.NewLine}{result.Describe()}");
        Assert.True(result.Number("mapAttemptsRerun") == 0, $"run {run}: a map was rerun.{Environment.NewLine}{result.Describe()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task With_one_copy_a_killed_silo_is_reported_as_shuffle_data_lost_by_partition(int run)
    {
        var result = await RunAsync("--replicas", "1", "--kill-silo", "map:0.5");
        string why = $"run {run}: expected a 'shuffle data lost' failure.{Environment.NewLine}{result.Describe()}";
        Assert.True(result.ExitCode is not null and not 0, why);
        Assert.True(result.Report is not null, why);
        Assert.False(result.Verified, why);
        Assert.True(result.Number("silosKilled") == 1, why);
        string error = result.Error ?? "";
        Assert.StartsWith("shuffle data lost:", error);
        // It names the partitions, so the driver knows what to rerun.
        Assert.Matches(new Regex(@"shuffle data lost: partitions? \d+(, \d+)* of shuffle 0"), error);
        // Never wrong data: nothing was reported as read.
        Assert.Equal(0, result.Number("partitionsVerified"));
    }
}
