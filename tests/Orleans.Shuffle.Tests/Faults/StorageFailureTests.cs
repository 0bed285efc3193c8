using Xunit.Abstractions;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// A storage directory that runs out of space while its silo runs, in the middle of a shuffle whose
/// partitions also cross the split threshold. The test starts three silo processes itself; silo 1's
/// disk is a small tmpfs that the test fills, once the silos are up and before the job starts, until
/// only <see cref="RoomBytes"/> are free. The job's own writes then run it out of space: silo 1 holds
/// about a third of the 128 MiB stored (64 MiB, two copies), and the silo writes as data arrives (in
/// 32-256 KiB flushes), so ENOSPC comes within the first tenth of its writes, while the maps still
/// push. (Filling the disk from the test while the job ran raced with a map stage of a second or
/// two on a busy machine, and twice came after it.) Partitions split every 1 MiB. The job runs
/// against this grid (--grid) with two copies of each partition and must verify every record.
/// </summary>
[Collection(SiloCollection.Name)]
public class StorageFailureTests(ITestOutputHelper output)
{
    private const int TmpfsMiB = 96;

    /// <summary>Free space left on silo 1's disk when the job starts: a few partitions' first flushes.</summary>
    private const long RoomBytes = 2L << 20;

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
            // The disk is what must fail here, not the application's quota of a small disk (half of it by default).
            "--Storage:MaxApplicationBytes=1073741824",
        ]);
        // After the silos' start-up probe (which needs 4 KiB) and before any shuffle: the disk is healthy
        // and takes slots, and the job's data is what fills it.
        long filled = tmpfs.FillUp(leaveBytes: RoomBytes);
        long freeAtStart = tmpfs.FreeBytes();

        string report = temp.Combine("report.json");
        using var job = ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.JobDll,
            "--grid", grid.Gateways,
            "--cluster-id", grid.ClusterId,
            "--replicas", "2",
            .. FaultJob.SmallJob("64MiB"),
            "--report", report,
            "--work-dir", temp.Combine("work"),
        ], workingDirectory: temp.Path);

        int? exit = await job.WaitForExitAsync(FaultJob.Timeout);
        var disk = await DiskStateAsync(grid.Silos[0]);
        output.WriteLine($"run {run}: filled silo 1's disk with {filled} bytes, leaving {freeAtStart} free; its disk after the job: {disk.Text}");
        string describe = $"run {run}: exit {exit?.ToString() ?? "none (killed after the timeout)"}; the test left {freeAtStart} bytes " +
            $"free on silo 1's disk (filler {filled} bytes) before the job." + Environment.NewLine +
            $"job output:{Environment.NewLine}{job.Tail(80)}{Environment.NewLine}" +
            $"silo 1 disk: {disk.Text}{Environment.NewLine}silo 1 output:{Environment.NewLine}{grid.Output(0)}{Environment.NewLine}" +
            (File.Exists(report) ? $"report: {await File.ReadAllTextAsync(report)}{Environment.NewLine}" : "no report") +
            FaultJob.LogTails(temp.Combine("work", "logs"));

        Assert.InRange(freeAtStart, 1, RoomBytes + (64L << 10));
        Assert.True(exit == 0, "the job did not verify. " + describe);
        // The fault was real: the silo's writes to the full disk failed, and the disk took no more
        // than the room it had, so the rest of silo 1's share went elsewhere.
        Assert.True(disk.Failures > 0, "silo 1 counted no failed disk write. " + describe);
        Assert.True(disk.BytesWritten <= freeAtStart, $"silo 1 wrote {disk.BytesWritten} bytes to a disk with {freeAtStart} free. " + describe);
        using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(report));
        Assert.True(json.RootElement.GetProperty("verified").GetBoolean(), describe);
        Assert.Equal(json.RootElement.GetProperty("partitions").GetInt32(), json.RootElement.GetProperty("partitionsVerified").GetInt32());
        output.WriteLine($"run {run}: verified; revives {json.RootElement.GetProperty("revives")}, failovers {json.RootElement.GetProperty("failovers")}");
    }

    /// <summary>The disks[] of a silo's /state as JSON text, for the test's messages, and the failed and written bytes they count.</summary>
    private static async Task<(string Text, long Failures, long BytesWritten)> DiskStateAsync(SiloReady silo)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            using var state = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://{silo.Http}/state"));
            var disks = state.RootElement.GetProperty("disks");
            return (disks.ToString(), disks.EnumerateArray().Sum(d => d.GetProperty("failures").GetInt64()),
                disks.EnumerateArray().Sum(d => d.GetProperty("bytesWritten").GetInt64()));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return ($"(no /state: {e.Message})", 0, 0);
        }
    }
}
