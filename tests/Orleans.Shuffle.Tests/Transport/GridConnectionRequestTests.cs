using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Transport;

/// <summary>
/// The pooled requests of <see cref="GridConnection"/> against a scripted silo on a real socket: each
/// completes exactly once with its own reply, the deadline sweep times requests out (and a late reply
/// does not reach the pooled object's next request), cancellation, error replies, and a silo that
/// dies failing every pending request with ConnectionLost.
/// </summary>
public sealed class GridConnectionRequestTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ScriptedSilo _silo = new();

    [Fact]
    public async Task Every_request_gets_its_own_reply_while_the_pooled_waiters_are_reused()
    {
        _silo.Answer = request => new PushReply([new PartitionRef(request.ShuffleId, 7)]);
        await using var connection = await ConnectAsync(new GridConnectionOptions());

        // Many rounds of concurrent requests: every waiter object is rented, completed and returned many times.
        for (int round = 0; round < 50; round++)
        {
            var replies = Enumerable.Range(round * 16, 16)
                .Select(i => connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", i, 0)).AsTask())
                .ToArray();
            var answers = await Task.WhenAll(replies).WaitAsync(Timeout);
            for (int i = 0; i < answers.Length; i++) Assert.Equal(new PartitionRef(round * 16 + i, 7), Assert.Single(answers[i].Splits));
        }
        Assert.Equal(0, connection.PendingRequests);
    }

    [Fact]
    public async Task The_sweep_times_out_an_unanswered_request_and_its_late_reply_reaches_nobody()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new GridConnectionOptions { RequestTimeout = TimeSpan.FromSeconds(10), TimeProvider = time };
        _silo.Answer = _ => null; // hold every reply
        await using var connection = await ConnectAsync(options);

        var first = connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 1, 0)).AsTask();
        var held = await _silo.Held.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(first.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1) + GridConnection.SweepPeriod(options.RequestTimeout) + TimeSpan.FromMilliseconds(1));
        var error = await Assert.ThrowsAsync<GridException>(() => first.WaitAsync(Timeout));
        Assert.Equal(GridErrorCode.Timeout, error.Code);
        Assert.Contains("no reply within 10 s", error.Message);

        // The next request very likely takes the same pooled waiter. The first request's late reply
        // (a different answer) must not complete it: it gets its own answer.
        var second = connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 2, 0)).AsTask();
        var secondHeld = await _silo.Held.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        await _silo.ReplyAsync(held.Id, new PushReply([new PartitionRef(1, 1)]));
        await _silo.ReplyAsync(secondHeld.Id, new PushReply([new PartitionRef(2, 2)]));
        Assert.Equal(new PartitionRef(2, 2), Assert.Single((await second.WaitAsync(Timeout)).Splits));
        Assert.True(connection.IsConnected);
        Assert.Equal(0, connection.PendingRequests);
    }

    [Fact]
    public async Task A_cancelled_request_throws_OperationCanceled_and_the_connection_goes_on()
    {
        _silo.Answer = request => request.ShuffleId == 1 ? null : PushReply.None;
        await using var connection = await ConnectAsync(new GridConnectionOptions());
        using var cancel = new CancellationTokenSource();

        var waiting = connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 1, 0), cancel.Token).AsTask();
        var held = await _silo.Held.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Timeout));
        Assert.Equal(0, connection.PendingRequests);

        await _silo.ReplyAsync(held.Id, new PushReply([new PartitionRef(1, 1)]));
        var next = await connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 2, 0)).AsTask().WaitAsync(Timeout);
        Assert.Empty(next.Splits);
    }

    [Fact]
    public async Task An_error_reply_throws_its_code()
    {
        _silo.Answer = _ => throw new GridException(GridErrorCode.UnknownPartition, "no such partition");
        await using var connection = await ConnectAsync(new GridConnectionOptions());

        var error = await Assert.ThrowsAsync<GridException>(() =>
            connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 1, 0)).AsTask().WaitAsync(Timeout));
        Assert.Equal(GridErrorCode.UnknownPartition, error.Code);
        Assert.Equal("no such partition", error.Message);
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task A_silo_that_dies_fails_every_pending_request_with_ConnectionLost()
    {
        _silo.Answer = _ => null;
        await using var connection = await ConnectAsync(new GridConnectionOptions());

        var pending = Enumerable.Range(0, 8)
            .Select(i => connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", i, 0)).AsTask())
            .Select(async reply => (object)await reply)
            .Append(Raw(connection.SendAsync(MessageType.PushData, new PushDataHeader("app", 9, 0))))
            .ToArray();
        for (int i = 0; i < pending.Length; i++) await _silo.Held.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        _silo.Kill();

        foreach (var request in pending)
        {
            var error = await Assert.ThrowsAsync<GridException>(() => request.WaitAsync(Timeout));
            Assert.Equal(GridErrorCode.ConnectionLost, error.Code);
        }
        Assert.False(connection.IsConnected);
        var after = await Assert.ThrowsAsync<GridException>(() =>
            connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 1, 0)).AsTask());
        Assert.Equal(GridErrorCode.ConnectionLost, after.Code);
    }

    /// <summary>
    /// A reply body above <see cref="GridConnection.DirectBodyBytes"/> (a chunk) is read from the socket
    /// straight into the response's buffer, bypassing the pipe: it arrives whole and in order even when
    /// it comes in pieces, and the frame right behind it, in the same send as its last bytes, is parsed as usual.
    /// </summary>
    [Fact]
    public async Task A_large_reply_read_straight_into_its_buffer_arrives_whole_and_the_next_frame_follows()
    {
        _silo.Answer = request => request.ShuffleId == 1 ? null : new PushReply([new PartitionRef(request.ShuffleId, 3)]);
        await using var connection = await ConnectAsync(new GridConnectionOptions());

        var large = connection.SendAsync(MessageType.PushData, new PushDataHeader("app", 1, 0)).AsTask();
        var held = await _silo.Held.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        var body = new byte[1024 * 1024 + 17];
        new Random(5).NextBytes(body);
        var frame = new byte[FrameHeader.Size + body.Length];
        new FrameHeader(body.Length, MessageType.PushData, FrameFlags.Response, held.Id).Write(frame);
        body.CopyTo(frame, FrameHeader.Size);

        // A second request, answered by a frame sent together with the large body's last bytes.
        var next = connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 1, 0)).AsTask();
        var nextHeld = await _silo.Held.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        using var nextReply = new PooledBufferWriter();
        FrameWriter.Write(nextReply, MessageType.PushData, FrameFlags.Response, nextHeld.Id, new PushReply([new PartitionRef(9, 9)]), int.MaxValue);

        int piece = 100_000;
        for (int offset = 0; offset < frame.Length; offset += piece)
        {
            var bytes = frame.AsMemory(offset, Math.Min(piece, frame.Length - offset));
            if (offset + piece >= frame.Length) bytes = bytes.ToArray().Concat(nextReply.WrittenSpan.ToArray()).ToArray();
            await _silo.SendRawAsync(bytes);
            await Task.Delay(5);
        }

        using (var response = await large.WaitAsync(Timeout))
        {
            Assert.True(response.Memory.Span.SequenceEqual(body), "the large body arrived changed");
        }
        Assert.Equal(new PartitionRef(9, 9), Assert.Single((await next.WaitAsync(Timeout)).Splits));
        Assert.Equal(1, connection.DirectBodyReads);
        Assert.True(connection.IsConnected);
        Assert.Equal(0, connection.PendingRequests);
    }

    /// <summary>A large reply nobody waits for any more (its request timed out) is dropped, and the connection goes on.</summary>
    [Fact]
    public async Task A_large_reply_to_a_request_that_timed_out_is_dropped_and_the_connection_goes_on()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new GridConnectionOptions { RequestTimeout = TimeSpan.FromSeconds(10), TimeProvider = time };
        _silo.Answer = request => request.ShuffleId == 1 ? null : PushReply.None;
        await using var connection = await ConnectAsync(options);

        var large = connection.SendAsync(MessageType.PushData, new PushDataHeader("app", 1, 0)).AsTask();
        var held = await _silo.Held.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        time.Advance(options.RequestTimeout + GridConnection.SweepPeriod(options.RequestTimeout) + TimeSpan.FromMilliseconds(1));
        Assert.Equal(GridErrorCode.Timeout, (await Assert.ThrowsAsync<GridException>(() => large.WaitAsync(Timeout))).Code);

        var frame = new byte[FrameHeader.Size + 512 * 1024];
        new FrameHeader(512 * 1024, MessageType.PushData, FrameFlags.Response, held.Id).Write(frame);
        await _silo.SendRawAsync(frame);
        var next = await connection.RequestAsync<PushDataHeader, PushReply>(MessageType.PushData, new PushDataHeader("app", 2, 0)).AsTask().WaitAsync(Timeout);
        Assert.Empty(next.Splits);
        Assert.True(connection.IsConnected);
    }

    private static async Task<object> Raw(ValueTask<GridResponse> reply)
    {
        using var response = await reply;
        return response.Memory.ToArray();
    }

    private Task<GridConnection> ConnectAsync(GridConnectionOptions options) =>
        GridConnection.ConnectAsync("127.0.0.1", _silo.Port, options).WaitAsync(Timeout);

    public async ValueTask DisposeAsync() => await _silo.DisposeAsync();

    /// <summary>A silo of one connection: answers Hello, then each PushData as <see cref="Answer"/> says (null: hold it, see <see cref="Held"/>).</summary>
    private sealed class ScriptedSilo : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly Task _serving;
        private Socket? _socket;

        public ScriptedSilo()
        {
            _listener.Start();
            _serving = Task.Run(ServeAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public Func<PushDataHeader, PushReply?> Answer { get; set; } = _ => PushReply.None;

        public Channel<(ulong Id, PushDataHeader Request)> Held { get; } = Channel.CreateUnbounded<(ulong, PushDataHeader)>();

        public void Kill() => _socket?.Dispose();

        public async Task ReplyAsync<T>(ulong id, T body, FrameFlags flags = FrameFlags.Response) where T : IWireMessage<T>
        {
            using var frame = new PooledBufferWriter();
            FrameWriter.Write(frame, MessageType.PushData, flags, id, body, int.MaxValue);
            await _writeLock.WaitAsync();
            try
            {
                await _socket!.SendAsync(frame.WrittenMemory);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
        {
            await _writeLock.WaitAsync();
            try
            {
                await _socket!.SendAsync(bytes);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        private async Task ServeAsync()
        {
            _socket = await _listener.AcceptSocketAsync();
            var input = PipeReader.Create(new NetworkStream(_socket, ownsSocket: false));
            try
            {
                while (true)
                {
                    var result = await input.ReadAsync();
                    var frames = Parse(result.Buffer, out var consumed);
                    input.AdvanceTo(consumed, result.Buffer.End);
                    foreach (var (header, body) in frames) await HandleAsync(header, body);
                    if (result.IsCompleted) break;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // Killed, or the client closed.
            }
        }

        /// <summary>The whole frames in the buffer, their bodies copied.</summary>
        private static List<(FrameHeader Header, byte[] Body)> Parse(ReadOnlySequence<byte> buffer, out SequencePosition consumed)
        {
            var frames = new List<(FrameHeader, byte[])>();
            var reader = new SequenceReader<byte>(buffer);
            while (FrameCodec.TryRead(ref reader, int.MaxValue, out var frame, out _)) frames.Add((frame.Header, frame.Body.ToArray()));
            consumed = reader.Position;
            return frames;
        }

        private async Task HandleAsync(FrameHeader header, byte[] body)
        {
            ulong id = header.RequestId;
            if (header.Type == MessageType.Hello)
            {
                await ReplyAsync(id, new HelloOk(ProtocolConstants.Version, "scripted@1", "scripted", []));
                return;
            }
            var request = Read(body);
            PushReply? answer;
            try
            {
                answer = Answer(request);
            }
            catch (GridException e)
            {
                await ReplyAsync(id, new ErrorReply(e.Code, e.Message), FrameFlags.Response | FrameFlags.Error);
                return;
            }
            if (answer is null) await Held.Writer.WriteAsync((id, request));
            else await ReplyAsync(id, answer);
        }

        private static PushDataHeader Read(byte[] body)
        {
            var reader = new WireReader(new ReadOnlySequence<byte>(body));
            return PushDataHeader.Read(ref reader);
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _socket?.Dispose();
            try { await _serving.WaitAsync(Timeout); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }
}
