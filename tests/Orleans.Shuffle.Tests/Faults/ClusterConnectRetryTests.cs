using System.Diagnostics;
using System.Text.Json;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// The main job started against a gateway that does not answer yet (its silo process is started only
/// once the job's first contact has failed): the driver must retry its first connection, as every
/// later call of the grid client is retried, instead of failing the job.
/// </summary>
[Collection(SiloCollection.Name)]
public class ClusterConnectRetryTests
{
    [Fact]
    public async Task A_job_whose_first_contact_with_the_grid_fails_retries_it_and_verifies()
    {
        using var temp = new TempDirectory("oshuffle-connect");
        string clusterId = "connect-" + Guid.NewGuid().ToString("N")[..8];
        int gatewayPort = LoopbackPort.Free();
        string report = temp.Combine("report.json");
        using var job = ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.JobDll,
            "--grid", $"127.0.0.1:{gatewayPort}",
            "--cluster-id", clusterId,
            "--replicas", "1",
            .. FaultJob.SmallJob(),
            "--report", report,
            "--work-dir", temp.Combine("work"),
        ], workingDirectory: temp.Path);

        // Nothing listens on the gateway port until the job has said that its first contact failed.
        var clock = Stopwatch.StartNew();
        bool Retrying() => job.Output.Any(l => l.Contains("Connecting to the grid failed", StringComparison.Ordinal));
        // Bounded by a minute.
        while (!Retrying() && !job.HasExited && clock.Elapsed < TimeSpan.FromMinutes(1)) await Task.Delay(50);
        Assert.True(Retrying() && !job.HasExited, "the job did not say that it retries its first contact with the grid:" + Environment.NewLine + job.Tail());
        using var grid = await SiloProcessGrid.StartAsync([temp.Combine("d1")], temp.Combine("membership"),
            ["--gateway-port", gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], clusterId);

        int? exit = await job.WaitForExitAsync(FaultJob.Timeout - clock.Elapsed);
        string describe = $"exit {exit?.ToString() ?? "none (killed)"}; job output:{Environment.NewLine}{job.Tail(60)}";
        Assert.True(exit == 0, describe);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(report));
        Assert.True(json.RootElement.GetProperty("verified").GetBoolean(), describe);
        Assert.Equal(json.RootElement.GetProperty("partitions").GetInt32(), json.RootElement.GetProperty("partitionsVerified").GetInt32());
    }
}
