using Orleans.Shuffle.Job;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>The job tool's fault options and how it names lost partitions; no processes.</summary>
public class FaultPlanTests
{
    [Theory]
    [InlineData("map:0.5", "Map", 0.5)]
    [InlineData("reduce:0.2", "Reduce", 0.2)]
    [InlineData("MAP:1", "Map", 1.0)]
    [InlineData("reduce:0", "Reduce", 0.0)]
    [InlineData("grain", "Grain", 1.0)]
    public void Kill_points_parse(string text, string stage, double fraction)
    {
        var plan = SiloKillPlan.Parse(text);
        Assert.Equal(Enum.Parse<KillStage>(stage), plan.Stage);
        Assert.Equal(fraction, plan.Fraction);
        Assert.Equal(plan, SiloKillPlan.Parse(plan.ToString()));
    }

    [Theory]
    [InlineData("map")]
    [InlineData("map:")]
    [InlineData("map:1.5")]
    [InlineData("map:-0.1")]
    [InlineData("shuffle:0.5")]
    [InlineData("")]
    public void Bad_kill_points_are_refused(string text) => Assert.Throws<FormatException>(() => SiloKillPlan.Parse(text));

    [Theory]
    [InlineData("Shuffle data lost for app-1/0: no copy of partitions 0-0 (127.0.0.1:39039: Cannot connect to silo 127.0.0.1:39039: Connection refused), 3-1 (127.0.0.1:1: x) committed. Rerun the map stage.", new[] { 0, 3 })]
    [InlineData("Shuffle data lost for app-12-3/0: partitions 2-0 on silo-2 (Connection refused), 5-0 on silo-2 (Timeout). Rerun the map stage.", new[] { 2, 5 })]
    [InlineData("Partition 7 epoch 1 on silo 127.0.0.1:4000 was committed with 3 batches, but its chunks hold 2.", new[] { 7 })]
    [InlineData("something else went wrong", new int[0])]
    public void Lost_partitions_are_read_from_the_grid_message(string message, int[] partitions) =>
        Assert.Equal(partitions, ShuffleDataLostException.PartitionsNamedIn(message).Distinct().Order());

    [Fact]
    public void The_data_lost_error_starts_with_its_prefix_and_names_the_partitions()
    {
        var e = ShuffleDataLostException.Create("reduce-1", "Partition 5 epoch 0 on silo 127.0.0.1:4000 was committed with 3 batches, but its chunks hold 2.", [1]);
        Assert.StartsWith("shuffle data lost: partitions 1, 5 of shuffle 0 (reduce-1: ", e.Message);
        Assert.Equal([1, 5], e.Partitions);
        Assert.EndsWith("Rerun the map stage.", e.Message);
    }

    [Fact]
    public async Task The_stage_gate_fires_once_when_every_running_worker_has_paused()
    {
        using var temp = new Orleans.Shuffle.Testing.TempDirectory("oshuffle-gate");
        int fired = 0;
        var gate = new StageGate(0.5, temp.Combine("resume"), () =>
        {
            Interlocked.Increment(ref fired);
            return Task.CompletedTask;
        });
        Assert.Equal(50, gate.PausePointFor(100));
        gate.TaskStarted();
        gate.TaskStarted();
        gate.TaskPaused();
        Assert.False(gate.Fired);
        gate.TaskPaused();
        Assert.True(gate.Fired);
        Assert.True(await gate.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(File.Exists(gate.ResumeFile));
        Assert.Equal(1, fired);
        // Workers started later run without a pause, and nothing fires again.
        Assert.Null(gate.PausePointFor(100));
        gate.TaskStarted();
        gate.TaskPaused();
        gate.TaskEnded(paused: true);
        Assert.Equal(1, fired);
    }
}
