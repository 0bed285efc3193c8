using System.Buffers;
using System.Net.Sockets;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>
/// A bare TCP connection to a silo's grid port that sends whatever bytes a test likes and parses
/// what comes back frame by frame: for feeding a silo garbage and checking its answers.
/// </summary>
public sealed class RawGridSocket : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _receive = new byte[64 * 1024];
    private byte[] _pending = [];
    private bool _closedByPeer;

    private RawGridSocket(Socket socket) => _socket = socket;

    public static async Task<RawGridSocket> ConnectAsync(string host, int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(host, port, timeout.Token);
        return new RawGridSocket(socket);
    }

    public static async Task<RawGridSocket> ConnectAndHelloAsync(string host, int port)
    {
        var raw = await ConnectAsync(host, port);
        await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("raw-test"), requestId: 1);
        var reply = await raw.ReceiveFrameAsync();
        Assert.NotNull(reply);
        Assert.Equal(FrameFlags.Response, reply.Value.Header.Flags);
        Assert.Equal(1UL, reply.Value.Header.RequestId);
        return raw;
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // Bounded: each send moves forward by at least one byte.
        while (bytes.Length > 0)
        {
            int sent = await _socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
            bytes = bytes[sent..];
        }
    }

    public async Task SendFrameAsync<T>(MessageType type, T body, ulong requestId, FrameFlags flags = FrameFlags.None) where T : IWireMessage<T>
    {
        using var frame = new PooledBufferWriter(64);
        FrameWriter.Write(frame, type, flags, requestId, body, int.MaxValue);
        await SendAsync(frame.WrittenMemory);
    }

    /// <summary>Sends a frame with <paramref name="body"/> as its raw body bytes.</summary>
    public Task SendRawFrameAsync(MessageType type, byte[] body, ulong requestId) =>
        SendFrameAsync(type, new RawBody(body), requestId);

    /// <summary>Tells the silo we will send nothing more.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>The next whole frame, or null when the silo closed the connection first.</summary>
    public async Task<(FrameHeader Header, byte[] Body)?> ReceiveFrameAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        // Bounded by the timeout: every round either parses, or receives at least one byte, or ends.
        while (true)
        {
            if (TryParse(out var frame)) return frame;
            if (_closedByPeer) return null;
            int received;
            try
            {
                received = await _socket.ReceiveAsync(_receive, SocketFlags.None, cancel.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                received = 0;
            }
            if (received == 0)
            {
                _closedByPeer = true;
                continue;
            }
            _pending = [.. _pending, .. _receive.AsSpan(0, received)];
        }
    }

    /// <summary>The error reply that must come next; its code and message.</summary>
    public async Task<(FrameHeader Header, ErrorReply Error)> ReceiveErrorAsync()
    {
        var frame = await ReceiveFrameAsync();
        Assert.True(frame is not null, "the silo closed the connection without an error reply");
        var (header, body) = frame.Value;
        Assert.True(header.IsResponse && header.IsError, $"expected an error reply, got flags {header.Flags}");
        var reader = new WireReader(new ReadOnlySequence<byte>(body));
        var error = ErrorReply.Read(ref reader);
        reader.EnsureEnd();
        return (header, error);
    }

    /// <summary>True when the silo closes the connection within the timeout (frames before the close are skipped).</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        // Bounded by the deadline.
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await ReceiveFrameAsync(deadline - DateTime.UtcNow) is null) return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return false;
    }

    private bool TryParse(out (FrameHeader Header, byte[] Body) frame)
    {
        frame = default;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_pending));
        if (!FrameCodec.TryRead(ref reader, int.MaxValue, out var parsed, out var error))
        {
            Assert.Equal(FrameError.None, error); // a silo never sends a broken frame
            return false;
        }
        frame = (parsed.Header, parsed.Body.ToArray());
        _pending = _pending[(int)reader.Consumed..];
        return true;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
