using System.Buffers.Binary;
using System.Text.Json;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Faults;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;
using Xunit.Abstractions;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>
/// A silo process under connections that announce 32 MiB frames and send most of them: what it holds
/// is bounded by its configuration, and given back when they close.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class ConnectionMemoryProcessTests(ITestOutputHelper output)
{
    private const int Connections = 100;
    private const int FrameBody = 32 * 1024 * 1024;
    private const long MaxLargeFrameBytes = 64L * 1024 * 1024;
    private const long MaxBufferedBytes = 64L * 1024 * 1024;

    [Fact]
    public async Task A_hundred_connections_holding_partial_32_MiB_frames_stay_within_the_budget_and_the_memory_returns_when_they_close()
    {
        using var temp = new TempDirectory("oshuffle-conn-mem");
        using var grid = await SiloProcessGrid.StartAsync([temp.Combine("disk")], temp.Combine("membership"),
        [
            "--DataEndpoint:MaxLargeFrameBytes=" + MaxLargeFrameBytes,
            "--Storage:MaxBufferedBytes=" + MaxBufferedBytes,
            // Long enough that the frames are held while they are measured.
            "--DataEndpoint:FrameReadTimeout=00:02:00",
        ]);
        int pid = grid.ProcessId(0);
        var data = grid.Silos[0].Data.Split(':');
        var endpoint = new Model.SiloEndpoint("", "s1", data[0], int.Parse(data[1], System.Globalization.CultureInfo.InvariantCulture));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        async Task<JsonElement> StateAsync() => JsonDocument.Parse(await http.GetStringAsync($"http://{grid.Silos[0].Http}/state")).RootElement;
        async Task<JsonElement> ConnectionStateAsync() => (await StateAsync()).GetProperty("dataConnections");

        byte[] frame = new byte[FrameHeader.Size + FrameBody];
        BinaryPrimitives.WriteInt32LittleEndian(frame, FrameBody);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), 999); // unknown type: read whole, then refused
        BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(8), 7);

        // Warm up the large-frame path once, so the idle figure includes its code.
        var (warm, _) = await RawGridSocket.ConnectAndHelloAsync(endpoint);
        await using (warm)
        {
            await warm.SendAsync(frame);
            var (_, error) = await warm.ReceiveErrorAsync();
            Assert.Equal(GridErrorCode.UnknownMessageType, error.Code);
        }
        await Task.Delay(3000);
        long idle = RssBytes(pid);
        output.WriteLine($"idle: {(await StateAsync()).GetProperty("process")}");

        var sockets = new List<RawGridSocket>();
        using var stop = new CancellationTokenSource();
        var sends = new List<Task>();
        long held;
        JsonElement state;
        try
        {
            for (int i = 0; i < Connections; i++)
            {
                var (raw, _) = await RawGridSocket.ConnectAndHelloAsync(endpoint);
                sockets.Add(raw);
                // All of the frame but its last MiB; a send the silo stops reading blocks until the stop.
                sends.Add(SendUntilStoppedAsync(raw, frame.AsMemory(0, frame.Length - 1024 * 1024), stop.Token));
            }
            Assert.True(await Poll.UntilAsync(async () => (await ConnectionStateAsync()).GetProperty("largeFramesWaiting").GetInt32() == Connections - 2, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200)),
                (await ConnectionStateAsync()).ToString());
            // Let every connection fill what it may: its receive pipe, and the two admitted frames their pieces.
            await Task.Delay(3000);
            held = Enumerable.Range(0, 5).Select(_ =>
            {
                Thread.Sleep(200);
                return RssBytes(pid);
            }).Max();
            state = await ConnectionStateAsync();
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var raw in sockets) await raw.DisposeAsync();
            await Task.WhenAll(sends);
        }
        long bound = MaxBufferedBytes + MaxLargeFrameBytes + 300L * 1000 * 1000;
        output.WriteLine($"idle RSS {idle / 1e6:0.0} MB; held by {Connections} connections {held / 1e6:0.0} MB (bound {bound / 1e6:0.0} MB); state {state}");
        Assert.True(held < bound, $"RSS {held / 1e6:0.0} MB while connections held partial frames, over {bound / 1e6:0.0} MB");
        Assert.True(state.GetProperty("largeFrameBytes").GetInt64() <= MaxLargeFrameBytes);

        long after = 0;
        bool returned = await Poll.UntilAsync(() =>
        {
            after = RssBytes(pid);
            return Task.FromResult(after <= idle * 1.2);
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        var final = await StateAsync();
        output.WriteLine($"after close RSS {after / 1e6:0.0} MB; {final.GetProperty("process")}; {final.GetProperty("dataConnections")}");
        Assert.True(returned, $"RSS {after / 1e6:0.0} MB after the connections closed, idle was {idle / 1e6:0.0} MB; {final.GetProperty("process")}; {final.GetProperty("dataConnections")}");
        Assert.Equal(0, (await ConnectionStateAsync()).GetProperty("open").GetInt32());
    }

    private static async Task SendUntilStoppedAsync(RawGridSocket raw, ReadOnlyMemory<byte> bytes, CancellationToken stop)
    {
        try
        {
            await raw.SendAsync(bytes, stop);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // Stopped, or the socket closed under the send: what the test wanted.
        }
    }

    /// <summary>Resident set size of process <paramref name="pid"/>, from /proc.</summary>
    private static long RssBytes(int pid)
    {
        string line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

}
