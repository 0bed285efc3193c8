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
    public async Task A_silo_with_an_unwritable_disk_exits_at_once_saying_which()
    {
        using var temp = new TempDirectory("oshuffle-silo");
        string notADirectory = temp.Combine("plain-file");
        await File.WriteAllTextAsync(notADirectory, "a file, not a directory");
        using var silo = StartSilo(temp, "--disk", Path.Combine(notADirectory, "disk"));
        Assert.Equal(3, await silo.WaitForExitAsync(ExitBound));
        Assert.Contains(silo.Output, l => l.Contains("cannot be written", StringComparison.Ordinal) && l.Contains(notADirectory, StringComparison.Ordinal));
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
