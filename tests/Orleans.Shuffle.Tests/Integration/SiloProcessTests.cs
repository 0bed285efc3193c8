using System.Net;
using System.Net.Sockets;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Faults;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>The silo executable as a real process: how it starts, refuses to start, and stops.</summary>
[Collection(SiloCollection.Name)]
public class SiloProcessTests
{
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(60);

    private static ChildProcess StartSilo(TempDirectory temp, params string[] extra) =>
        ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.SiloDll,
            "--cluster-id", "silo-process-" + Guid.NewGuid().ToString("N")[..8],
            "--name", "p1",
            "--silo-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--data-port", "0",
            "--http-port", "0",
            "--membership-dir", temp.Combine("membership"),
            "--disk", temp.Combine("disk"),
            .. extra,
        ]);

    [Fact]
    public async Task SIGTERM_stops_a_silo_with_an_open_data_connection_and_it_leaves_the_cluster()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        string[] disks = [temp.Combine("d1"), temp.Combine("d2")];
        using var grid = await SiloProcessGrid.StartAsync(disks, temp.Combine("membership"), []);
        var leaving = grid.Silos[1];
        var endpoint = leaving.Data.Split(':');
        await using var connection = await GridConnection.ConnectAsync(endpoint[0], int.Parse(endpoint[1], System.Globalization.CultureInfo.InvariantCulture), new GridConnectionOptions());
        Assert.True(connection.IsConnected);

        grid.Signal(1, ChildProcess.SigTerm);
        Assert.Equal(0, await grid.WaitForExitAsync(1, ExitBound));
        // Kestrel closed the data connection on the way out, and Orleans told the membership table.
        Assert.False(connection.IsConnected);
        Assert.Equal("Dead", await grid.StatusSeenByAsync(0, leaving.Identity));
    }

    [Fact]
    public async Task A_silo_whose_ports_are_taken_exits_at_once_naming_the_setting_to_change()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        using var silo = StartSilo(temp, "--silo-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(3, await silo.WaitForExitAsync(ExitBound));
        Assert.Contains(silo.Output, l => l.Contains($"Silo:SiloPort {port}", StringComparison.Ordinal) && l.Contains("--silo-port", StringComparison.Ordinal));

        using var dataClash = StartSilo(temp, "--data-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(3, await dataClash.WaitForExitAsync(ExitBound));
        Assert.Contains(dataClash.Output, l => l.Contains($"Silo:DataPort {port}", StringComparison.Ordinal) && l.Contains("--data-port", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_silo_with_no_usable_disk_exits_2_saying_which_and_why()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        string notADirectory = temp.Combine("plain-file");
        await File.WriteAllTextAsync(notADirectory, "a file, not a directory");
        using var underAFile = StartSilo(temp, "--disk", Path.Combine(notADirectory, "disk"));
        Assert.Equal(2, await underAFile.WaitForExitAsync(ExitBound));
        Assert.Contains(underAFile.Output, l => l.Contains("cannot be used", StringComparison.Ordinal) && l.Contains(notADirectory, StringComparison.Ordinal));

        using var isAFile = StartSilo(temp, "--disk", notADirectory);
        Assert.Equal(2, await isAFile.WaitForExitAsync(ExitBound));
        Assert.Contains(isAFile.Output, l => l.Contains("cannot be used", StringComparison.Ordinal) && l.Contains(notADirectory, StringComparison.Ordinal));

        // A read-only file system lists and opens fine; only a write shows it.
        using var readOnly = TmpfsMount.Mount(temp.Combine("ro"), 4, readOnly: true);
        using var onReadOnly = StartSilo(temp, "--disk", readOnly.Directory);
        Assert.Equal(2, await onReadOnly.WaitForExitAsync(ExitBound));
        Assert.Contains(onReadOnly.Output, l => l.Contains("cannot be used", StringComparison.Ordinal) && l.Contains("Read-only file system", StringComparison.Ordinal));
        Assert.Contains(onReadOnly.Output, l => l.Contains("no usable disk", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_silo_leaves_out_a_read_only_disk_serves_from_the_others_and_takes_it_back_when_a_check_passes()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        using var flaky = TmpfsMount.Mount(temp.Combine("flaky"), 4, readOnly: true);
        using var grid = await SiloProcessGrid.StartAsync([flaky.Directory], temp.Combine("membership"),
            ["--Storage:Directories:1=" + temp.Combine("good"), "--Storage:SlotsPerDisk=7", "--Storage:ReservedBytesPerDisk=0", "--Storage:DiskCheckPeriod=00:00:00.2"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        async Task<System.Text.Json.JsonElement> StateAsync() =>
            System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://{grid.Silos[0].Http}/state")).RootElement;
        bool Logged(string text) => grid.Output(0, 400).Split('\n').Any(l => l.Contains(text, StringComparison.Ordinal) && l.Contains(flaky.Directory, StringComparison.Ordinal));

        var state = await StateAsync();
        var disks = state.GetProperty("disks").EnumerateArray().ToList();
        Assert.Equal(2, disks.Count);
        Assert.False(disks[0].GetProperty("healthy").GetBoolean());
        Assert.Contains("Read-only file system", disks[0].GetProperty("problem").GetString());
        Assert.True(disks[1].GetProperty("healthy").GetBoolean());
        Assert.Equal(7, state.GetProperty("silo").GetProperty("totalSlots").GetInt32());
        Assert.True(await Poll.UntilAsync(() => Logged("takes no new partitions")), grid.Output(0, 400));

        // Writable again: a periodic check takes it back, and the silo advertises its slots.
        flaky.Remount(readOnly: false);
        Assert.True(await Poll.UntilAsync(async () => (await StateAsync()).GetProperty("silo").GetProperty("totalSlots").GetInt32() == 14), "the disk did not come back");
        // The line may reach the test's copy of the silo's output a moment after the state changed.
        Assert.True(await Poll.UntilAsync(() => Logged("passed its check")), grid.Output(0, 400));

        // Read-only under the running silo: the next check leaves it out again.
        flaky.Remount(readOnly: true);
        Assert.True(await Poll.UntilAsync(async () => (await StateAsync()).GetProperty("silo").GetProperty("totalSlots").GetInt32() == 7), "the disk was not left out");
    }

    [Fact]
    public async Task State_needs_the_operator_token_when_one_is_set_and_healthz_stays_open()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        const string Token = "operator-token-for-this-test";
        using var grid = await SiloProcessGrid.StartAsync([temp.Combine("disk")], temp.Combine("membership"), ["--Silo:OperatorToken=" + Token]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        string state = $"http://{grid.Silos[0].Http}/state";

        var anonymous = await http.GetAsync(state);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("needs the operator token", await anonymous.Content.ReadAsStringAsync());
        Assert.DoesNotContain("partitions", await anonymous.Content.ReadAsStringAsync());

        using var wrong = new HttpRequestMessage(HttpMethod.Get, state) { Headers = { Authorization = new("Bearer", Token + "-guess") } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);

        using var right = new HttpRequestMessage(HttpMethod.Get, state) { Headers = { Authorization = new("Bearer", Token) } };
        var answered = await http.SendAsync(right);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Contains("\"partitions\"", await answered.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://{grid.Silos[0].Http}/healthz")).StatusCode);
    }


    [Fact]
    public async Task A_silo_with_bad_settings_exits_2_listing_every_problem()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        using var silo = StartSilo(temp, "--membership", "zookeeper", "--Storage:ChunkBytes=12", "--cluster-id", "no/slashes");
        Assert.Equal(2, await silo.WaitForExitAsync(ExitBound));
        string output = silo.Tail();
        Assert.Contains("Membership:Provider 'zookeeper' is not known", output);
        Assert.Contains("Storage:ChunkBytes", output);
        Assert.Contains("Silo:ClusterId", output);
    }

    [Fact]
    public async Task A_silo_stops_when_the_process_that_started_it_is_gone()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        using var parent = ChildProcess.Start("sleep", ["5"]);
        using var silo = StartSilo(temp, "--parent-pid", parent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, await parent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(4, await silo.WaitForExitAsync(ExitBound));
        Assert.Contains(silo.Output, l => l.Contains($"parent process {parent.Id} is gone", StringComparison.Ordinal));
    }
}
