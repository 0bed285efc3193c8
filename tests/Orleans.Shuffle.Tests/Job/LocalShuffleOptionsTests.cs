using Orleans.Shuffle.Job;

namespace Orleans.Shuffle.Tests.Job;

/// <summary>--shuffle and --drop-caches: the local baseline refuses every option that only means something for a grid.</summary>
public class LocalShuffleOptionsTests
{
    private static JobOptions Bind(params string[] args) => JobOptionsTests.Bind(args);

    private static string BindError(params string[] args) => JobOptionsTests.BindError(args);

    [Fact]
    public void The_grid_is_the_default_and_local_starts_no_grid()
    {
        var grid = Bind();
        Assert.Equal(ShuffleKind.Grid, grid.Shuffle);
        Assert.True(grid.StartsLocalGrid);
        Assert.False(grid.DropCaches);

        var local = Bind("--shuffle", "local", "--drop-caches", "--maps", "3", "--executors", "2");
        Assert.Equal(ShuffleKind.Local, local.Shuffle);
        Assert.False(local.StartsLocalGrid);
        Assert.True(local.DropCaches);
        Assert.Equal(1, local.Replicas);
        Assert.Equal("local", JobReport.Planned(local).Shuffle);
        Assert.Equal("none", JobReport.Planned(local).Grid);
        Assert.Equal(0, JobReport.Planned(local).Silos);
        Assert.Equal("grid", JobReport.Planned(grid).Shuffle);
    }

    [Theory]
    [InlineData("--kill-silo", "grain")]
    [InlineData("--replicas", "2")]
    [InlineData("--cluster-id", "demo")]
    [InlineData("--grid", "127.0.0.1:30000")]
    [InlineData("--membership", "dynamodb")]
    [InlineData("--silo-arg=--Storage:ChunkBytes=1048576", null)]
    [InlineData("--silos", "3")]
    [InlineData("--compression", "zstd")]
    public void A_grid_only_option_with_the_local_shuffle_is_refused_by_name(string flag, string? value)
    {
        string[] args = value is null ? ["--shuffle", "local", flag] : ["--shuffle", "local", flag, value];
        string message = BindError(args);
        Assert.Contains("--shuffle local", message);
        Assert.Contains(flag.Split('=')[0], message);
    }

    [Fact]
    public void Every_grid_only_option_given_is_named_at_once()
    {
        string message = BindError("--shuffle", "local", "--replicas", "1", "--kill-silo", "map:0.5");
        Assert.Contains("--replicas", message);
        Assert.Contains("--kill-silo", message);
        Assert.Contains("--shuffle 'x' is not known", BindError("--shuffle", "x"));
    }

    [Fact]
    public async Task The_job_exits_with_the_usage_code_before_it_starts_anything()
    {
        var parse = JobCommand.Create().Parse(["--shuffle", "local", "--replicas", "2", "--no-progress"]);
        Assert.Equal(2, await parse.InvokeAsync());
    }
}
