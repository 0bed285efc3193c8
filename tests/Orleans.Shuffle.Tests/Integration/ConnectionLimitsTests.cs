using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;
using Orleans.TestingHost;

namespace Orleans.Shuffle.Tests.Integration;

/// <summary>
/// What a data connection may hold and for how long, against real silos over loopback: the frame
/// and idle deadlines, the silo-wide budget of frames above the receive pipe, and the connection
/// cap. Small limits, so each test takes seconds.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class ConnectionLimitsTests : IAsyncLifetime
{
    private const int MaxFrameBody = 4 * 1024 * 1024;
    private const int ReceiveBuffer = 256 * 1024;
    private const int MaxConnections = 24;
    private static readonly TimeSpan FrameReadTimeout = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(60);

    private TestGrid _grid = null!;
    private SiloEndpoint _endpoint = null!;

    private InProcessSiloHandle Silo => _grid.Silos[0];

    private DataPlaneMemory Memory => Silo.ServiceProvider.GetRequiredService<DataPlaneMemory>();

    public async Task InitializeAsync()
    {
        _grid = await TestGrid.StartAsync(2, settings: new Dictionary<string, string?>
        {
            ["DataEndpoint:MaxFrameBodyBytes"] = MaxFrameBody.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DataEndpoint:ReceiveBufferBytes"] = ReceiveBuffer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DataEndpoint:BlockBytes"] = (64 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Room for two frames of the largest size.
            ["DataEndpoint:MaxLargeFrameBytes"] = (2L * MaxFrameBody).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DataEndpoint:MaxConnections"] = MaxConnections.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DataEndpoint:FrameReadTimeout"] = FrameReadTimeout.ToString(),
            ["DataEndpoint:IdleTimeout"] = IdleTimeout.ToString(),
        });
        _endpoint = await _grid.DataEndpointOf(Silo);
    }

    public async Task DisposeAsync() => await _grid.DisposeAsync();

    /// <summary>The silo still serves: a whole small shuffle through the grid client (whose pooled connections may have been closed as idle).</summary>
    private Task AssertStillServesAsync(string appId) => ShuffleData.RunSmallShuffleAsync(_grid.Client, appId);

    private static byte[] Header(int bodyLength, ushort type, ulong requestId)
    {
        var header = new byte[FrameHeader.Size];
        BinaryPrimitives.WriteInt32LittleEndian(header, bodyLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), type);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), requestId);
        return header;
    }

    /// <summary>A frame of an unknown type: the silo reads it whole and answers UnknownMessageType.</summary>
    private const ushort Unknown = 999;

    private static async Task AssertErrorAsync(RawGridSocket raw, ulong requestId, GridErrorCode code)
    {
        var (header, error) = await raw.ReceiveErrorAsync();
        Assert.True((requestId, code) == (header.RequestId, error.Code), $"expected {code} for #{requestId}, got {error.Code} for #{header.RequestId}: {error.Message}");
    }

    [Theory]
    [InlineData(100 * 1024)] // parsed in the receive pipe
    [InlineData(MaxFrameBody)] // copied out of the pipe, under the large-frame budget
    public async Task A_frame_dripped_after_Hello_gets_Timeout_and_a_closed_connection_once_FrameReadTimeout_passed(int bodyLength)
    {
        var (raw, _) = await RawGridSocket.ConnectAndHelloAsync(_endpoint);
        await using (raw)
        {
            var clock = Stopwatch.StartNew();
            await raw.SendAsync(Header(bodyLength, Unknown, requestId: 5));
            using var stop = new CancellationTokenSource();
            // A byte every 200 ms: the frame makes progress, but would need days to arrive whole.
            var drip = Task.Run(async () =>
            {
                for (int i = 0; i < 100 && !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        await raw.SendAsync(new byte[] { 1 }, stop.Token);
                        await Task.Delay(200, stop.Token);
                    }
                    catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException)
                    {
                        return;
                    }
                }
            });
            var (header, error) = await raw.ReceiveErrorAsync();
            var elapsed = clock.Elapsed;
            await stop.CancelAsync();
            await drip;
            Assert.Equal((0UL, GridErrorCode.Timeout), (header.RequestId, error.Code));
            Assert.Contains("did not arrive whole within 4 s", error.Message);
            Assert.True(elapsed >= FrameReadTimeout - TimeSpan.FromMilliseconds(100), $"closed after {elapsed}, before the deadline");
            Assert.True(await raw.WaitForCloseAsync(CloseWait), "the connection was left open");
        }
        Assert.Equal(0L, Memory.LargeFrames.UsedBytes);
        await AssertStillServesAsync("app-after-drip-" + bodyLength);
    }

    [Fact]
    public async Task A_connection_idle_after_Hello_is_closed_without_a_reply_and_one_that_keeps_sending_stays_open()
    {
        var (idle, _) = await RawGridSocket.ConnectAndHelloAsync(_endpoint);
        var (busy, busyOk) = await RawGridSocket.ConnectAndHelloAsync(_endpoint);
        await busy.AuthenticateAsync(_grid.MemberCredential, busyOk);
        await using (idle)
        await using (busy)
        {
            // Twice the idle timeout of requests a second apart: each frame starts the wait afresh.
            for (ulong i = 0; i < 6; i++)
            {
                await busy.SendRawFrameAsync((MessageType)Unknown, [1], requestId: 100 + i);
                await AssertErrorAsync(busy, 100 + i, GridErrorCode.UnknownMessageType);
                await Task.Delay(1000);
            }
            Assert.Null(await idle.ReceiveFrameAsync(CloseWait));
            await busy.SendFrameAsync(MessageType.FetchChunk, new FetchChunk("app-nobody", 0, 0, 0, 0, 0, int.MaxValue), 200);
            await AssertErrorAsync(busy, 200, GridErrorCode.UnknownPartition);
        }
        await AssertStillServesAsync("app-after-idle");
    }

    [Fact]
    public async Task Large_frames_beyond_the_budget_wait_their_turn_and_are_then_served_whole()
    {
        int frameLength = MaxFrameBody; // the budget counts bodies
        var body = new byte[MaxFrameBody];
        var sockets = new List<RawGridSocket>();
        try
        {
            for (ulong i = 0; i < 3; i++)
            {
                var (raw, _) = await RawGridSocket.ConnectAndHelloAsync(_endpoint);
                sockets.Add(raw);
                await raw.SendAsync(Header(MaxFrameBody, Unknown, requestId: 10 + i));
                await raw.SendAsync(body.AsMemory(0, 64 * 1024));
                // Each connection's frame is seen before the next connects, so the order of the waiters is known.
                long expectedUsed = (long)Math.Min(i + 1, 2UL) * frameLength;
                int expectedWaiting = i == 2 ? 1 : 0;
                Assert.True(await Poll.UntilAsync(() => Memory.LargeFrames.UsedBytes == expectedUsed && Memory.LargeFrames.Waiting == expectedWaiting),
                    $"budget used {Memory.LargeFrames.UsedBytes} with {Memory.LargeFrames.Waiting} waiting, expected {expectedUsed} with {expectedWaiting}");
            }

            // The first two finish their frames and get their answers; the third is then let in and finishes too.
            for (int i = 0; i < 3; i++)
            {
                await sockets[i].SendAsync(body.AsMemory(64 * 1024));
                await AssertErrorAsync(sockets[i], 10 + (ulong)i, GridErrorCode.UnknownMessageType);
            }
            Assert.True(await Poll.UntilAsync(() => Memory.LargeFrames.UsedBytes == 0), $"budget still holds {Memory.LargeFrames.UsedBytes}");
            Assert.Equal((0, 0L), (Memory.LargeFrames.Waiting, Memory.LargeFrames.Refused));
        }
        finally
        {
            foreach (var raw in sockets) await raw.DisposeAsync();
        }
        await AssertStillServesAsync("app-after-large-frames");
    }

    [Fact]
    public async Task Connections_beyond_MaxConnections_are_closed_at_once_and_a_freed_place_is_taken_again()
    {
        var accepted = new List<RawGridSocket>();
        int refused = 0;
        try
        {
            for (int i = 0; i < MaxConnections + 6; i++)
            {
                var raw = await RawGridSocket.ConnectAsync(_endpoint);
                try
                {
                    await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("limit-test"), requestId: 1);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    // Closed before the Hello went out: refused too.
                }
                if (await raw.ReceiveFrameAsync(CloseWait) is { } reply && reply.Header.RequestId == 1 && !reply.Header.IsError) accepted.Add(raw);
                else
                {
                    refused++;
                    await raw.DisposeAsync();
                }
            }
            // The grid's own connections to this silo (the client's, the other silo's replication) hold up to 3 places.
            Assert.InRange(accepted.Count, MaxConnections - 3, MaxConnections);
            Assert.True(refused >= 6, $"{refused} of {MaxConnections + 6} connections refused, expected at least 6");

            await accepted[0].DisposeAsync();
            accepted.RemoveAt(0);
            bool admitted = await Poll.UntilAsync(async () =>
            {
                var raw = await RawGridSocket.ConnectAsync(_endpoint);
                try
                {
                    await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("limit-test"), requestId: 1);
                    if (await raw.ReceiveFrameAsync(CloseWait) is { } reply && !reply.Header.IsError)
                    {
                        accepted.Add(raw);
                        return true;
                    }
                }
                catch (System.Net.Sockets.SocketException)
                {
                    // Still refused: closed before the Hello went out.
                }
                await raw.DisposeAsync();
                return false;
            });
            Assert.True(admitted, "a place freed by a closed connection was not taken again");
        }
        finally
        {
            foreach (var raw in accepted) await raw.DisposeAsync();
        }
        await AssertStillServesAsync("app-after-connection-limit");
    }


}
