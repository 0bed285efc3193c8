using System.Diagnostics;
using Xunit.Abstractions;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// A storage directory that fails while its silo runs, in the middle of a shuffle whose partitions
/// also cross the split threshold. The test starts three silo processes itself; silo 1's disk is a
/// small tmpfs that the test fills to the last byte once the map stage has started writing to it,
/// so the silo's writes fail with ENOSPC from then on. Partitions split every 1 MiB. The job runs
/// against this grid (--grid) with two copies of each partition and must verify every record.
/// </summary>
[Collection(SiloCollection.Name)]
public class StorageFailureTests(ITestOutputHelper output)
{
    private const int TmpfsMiB = 96;

    /// <summary>
    /// Data on silo 1's disk that shows the map stage is pushing to it: its first few flushes (a
    /// partition's writes start at one 32 KiB piece). Half a megabyte once came only after a fast map
    /// stage had ended.
    /// </summary>
    private const long StartedWritingBytes = 64L << 10;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_disk_that_fills_up_mid_shuffle_with_splits_loses_nothing(int run)
    {
        using var temp = new TempDirectory("oshuffle-disk");
        using var tmpfs = TmpfsMount.Mount(temp.Combine("s1-disk"), TmpfsMiB);
        string[] disks = [tmpfs.Directory, temp.Combine("s2-disk"), temp.Combine("s3-disk")];
        using var grid = await SiloProcessGrid.StartAsync(disks, temp.Combine("membership"),
        [
            "--Storage:SplitThresholdBytes=1048576",
            "--Storage:ReservedBytesPerDisk=0",
            "--Storage:SlotsPerDisk=64",
        ]);

        string report = temp.Combine("report.json");
        using var job = ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.JobDll,
            "--grid", grid.Gateways,
            "--cluster-id", grid.ClusterId,
            "--replicas", "2",
            // 64 MiB: a map stage of a few seconds, so the poll below (starved on a busy 2-core machine) still
            // sees the disk start filling before the map stage ends; at 32 MiB it once came only after.
            .. FaultJob.SmallJob("64MiB"),
            "--report", report,
            "--work-dir", temp.Combine("work"),
        ], workingDirectory: temp.Path);

        // Fill the disk as soon as the map stage has written to it, while the job is still pushing.
        var clock = Stopwatch.StartNew();
        long usedBeforeFill = 0, filled = 0;
        bool mapStageOverAtFill = false;
        // Bounded by the job's own timeout.
        while (clock.Elapsed < FaultJob.Timeout)
        {
            usedBeforeFill = tmpfs.UsedBytes();
            if (usedBeforeFill >= StartedWritingBytes)
            {
                filled = tmpfs.FillUp();
                mapStageOverAtFill = job.Output.Any(l => l.StartsWith("map stage: finished", StringComparison.Ordinal));
                break;
            }
            // The job ended (or failed) without writing to the disk: nothing left to wait for.
            if (job.Output.Any(l => l.StartsWith("report written", StringComparison.Ordinal) || l.StartsWith("stderr: error:", StringComparison.Ordinal))) break;
            await Task.Delay(5);
        }

        int? exit = await job.WaitForExitAsync(FaultJob.Timeout - clock.Elapsed);
        var (disk, diskFailures) = await DiskStateAsync(grid.Silos[0]);
        output.WriteLine($"run {run}: filled silo 1's disk ({usedBeforeFill} bytes used) with {filled} bytes; its disk now: {disk}");
        string describe = $"run {run}: exit {exit?.ToString() ?? "none (killed after the timeout)"}; silo 1's disk had {usedBeforeFill} bytes " +
            $"used when the test wrote {filled} filler bytes{(mapStageOverAtFill ? " (after the map stage had finished)" : "")}." + Environment.NewLine +
            $"job output:{Environment.NewLine}{job.Tail(80)}{Environment.NewLine}" +
            $"silo 1 disk: {disk}{Environment.NewLine}silo 1 output:{Environment.NewLine}{grid.Output(0)}{Environment.NewLine}" +
            (File.Exists(report) ? $"report: {await File.ReadAllTextAsync(report)}{Environment.NewLine}" : "no report") +
            FaultJob.LogTails(temp.Combine("work", "logs"));

        Assert.True(filled > 0, "the disk was never filled: silo 1 got no data during the job. " + describe);
        Assert.False(mapStageOverAtFill, "the disk filled up only after the map stage: the fault came too late to test anything. " + describe);
        Assert.True(exit == 0, "the job did not verify. " + describe);
        // The fault was real: the silo's writes to the full disk failed.
        Assert.True(diskFailures > 0, "silo 1 counted no failed disk write. " + describe);
        using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(report));
        Assert.True(json.RootElement.GetProperty("verified").GetBoolean(), describe);
        Assert.Equal(json.RootElement.GetProperty("partitions").GetInt32(), json.RootElement.GetProperty("partitionsVerified").GetInt32());
        output.WriteLine($"run {run}: verified; revives {json.RootElement.GetProperty("revives")}, failovers {json.RootElement.GetProperty("failovers")}");
    }

    /// <summary>The disks[] of a silo's /state as JSON text, for the test's messages, and the failed writes they count.</summary>
    private static async Task<(string Text, long Failures)> DiskStateAsync(SiloReady silo)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            using var state = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://{silo.Http}/state"));
            var disks = state.RootElement.GetProperty("disks");
            return (disks.ToString(), disks.EnumerateArray().Sum(d => d.GetProperty("failures").GetInt64()));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return ($"(no /state: {e.Message})", 0);
        }
    }
}
