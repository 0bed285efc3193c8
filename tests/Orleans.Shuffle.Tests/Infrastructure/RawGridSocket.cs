using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>A body passed through as it is: for sending bytes a test built by hand through the project's framing.</summary>
public readonly struct RawBody(ReadOnlyMemory<byte> bytes) : IWireMessage<RawBody>
{
    public ReadOnlyMemory<byte> Bytes { get; } = bytes;

    public void Write(WireWriter writer) => writer.WriteRaw(Bytes.Span);

    public static RawBody Read(ref WireReader reader) => new(reader.ReadToEnd().ToArray());
}

/// <summary>
/// A bare loopback TCP connection that sends whatever bytes a test likes and parses what comes back
/// frame by frame: as a client of a silo's data endpoint, for feeding it garbage and checking its
/// answers, or as the accepted side of a listener, for checking what a project client sends.
/// </summary>
public sealed class RawGridSocket : IAsyncDisposable
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);

    private readonly Socket _socket;
    private readonly byte[] _receive = new byte[64 * 1024];
    private byte[] _pending = [];
    private bool _closedByPeer;

    private RawGridSocket(Socket socket) => _socket = socket;

    public static async Task<RawGridSocket> ConnectAsync(string host, int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(DefaultWait);
        try
        {
            await socket.ConnectAsync(host, port, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new RawGridSocket(socket);
    }

    public static Task<RawGridSocket> ConnectAsync(SiloEndpoint endpoint) => ConnectAsync(endpoint.Host, endpoint.Port);

    /// <summary>Connects and completes the handshake; the silo's HelloOk (request id 1) is checked and returned.</summary>
    public static async Task<(RawGridSocket Socket, HelloOk Ok)> ConnectAndHelloAsync(SiloEndpoint endpoint)
    {
        var raw = await ConnectAsync(endpoint);
        try
        {
            await raw.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("raw-test"), requestId: 1);
            var reply = await raw.ReceiveFrameAsync();
            Assert.NotNull(reply);
            Assert.Equal(new FrameHeader(reply.Value.Body.Length, MessageType.Hello, FrameFlags.Response, 1), reply.Value.Header);
            var reader = new WireReader(new ReadOnlySequence<byte>(reply.Value.Body));
            var ok = HelloOk.Read(ref reader);
            reader.EnsureEnd();
            Assert.Equal(ProtocolConstants.Version, ok.Version);
            return (raw, ok);
        }
        catch
        {
            await raw.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Proves <paramref name="credential"/> over <paramref name="ok"/>'s challenge (an Authenticate with
    /// request id <paramref name="requestId"/>) and checks the silo accepted it.
    /// </summary>
    public async Task AuthenticateAsync(Orleans.Shuffle.Security.DataPlaneCredential credential, HelloOk ok, ulong requestId = ulong.MaxValue)
    {
        await SendFrameAsync(MessageType.Authenticate,
            new Authenticate(credential.Kind, credential.Name, credential.Prove(ok.Challenge, ok.SiloIdentity)), requestId);
        var reply = await ReceiveFrameAsync();
        Assert.NotNull(reply);
        Assert.Equal(new FrameHeader(0, MessageType.Authenticate, FrameFlags.Response, requestId), reply.Value.Header);
    }

    /// <summary>The body of a PushData (or ReplicateData) of one batch to one partition epoch.</summary>
    public static byte[] PushBody(string appId, int shuffleId, int partitionId, int epoch, byte[] batch)
    {
        using var body = new PooledBufferWriter(256);
        var writer = new WireWriter(body);
        PushData.WriteHeader(writer, appId, shuffleId, 1);
        writer.WriteInt32(partitionId);
        writer.WriteInt32(epoch);
        writer.WriteInt32(batch.Length);
        writer.WriteRaw(batch);
        return body.WrittenSpan.ToArray();
    }

    /// <summary>A loopback listener on a free port, for <see cref="AcceptAsync"/>.</summary>
    public static TcpListener Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1);
        return listener;
    }

    /// <summary>The next connection <paramref name="listener"/> accepts, as a raw socket.</summary>
    public static async Task<RawGridSocket> AcceptAsync(TcpListener listener)
    {
        using var timeout = new CancellationTokenSource(DefaultWait);
        var socket = await listener.AcceptSocketAsync(timeout.Token);
        socket.NoDelay = true;
        return new RawGridSocket(socket);
    }

    /// <summary>Sends every byte, within 30 s or until <paramref name="cancellation"/> fires (then OperationCanceledException).</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellation = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(DefaultWait);
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
    public Task SendRawFrameAsync(MessageType type, byte[] body, ulong requestId, FrameFlags flags = FrameFlags.None) =>
        SendFrameAsync(type, new RawBody(body), requestId, flags);

    /// <summary>Tells the peer we will send nothing more.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>The next whole frame, or null when the peer closed the connection first.</summary>
    public async Task<(FrameHeader Header, byte[] Body)?> ReceiveFrameAsync(TimeSpan? timeout = null)
    {
        var raw = await ReceiveRawFrameAsync(timeout);
        if (raw is null) return null;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(raw));
        Assert.True(FrameCodec.TryRead(ref reader, int.MaxValue, out var frame, out _));
        return (frame.Header, frame.Body.ToArray());
    }

    /// <summary>The next whole frame exactly as it arrived (header and body), or null when the peer closed the connection first.</summary>
    public async Task<byte[]?> ReceiveRawFrameAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? DefaultWait);
        // Bounded by the timeout: every round either parses, or receives at least one byte, or ends.
        while (true)
        {
            if (TryTakeFrame(out var frame)) return frame;
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

    /// <summary>The error reply that must come next; its header and body.</summary>
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

    /// <summary>True when the peer closes the connection within the timeout (frames before the close are skipped).</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        // Bounded by the deadline.
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await ReceiveRawFrameAsync(deadline - DateTime.UtcNow) is null) return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return false;
    }

    /// <summary>Takes one whole frame off the received bytes, if they hold one.</summary>
    private bool TryTakeFrame(out byte[] frame)
    {
        frame = [];
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_pending));
        if (!FrameCodec.TryRead(ref reader, int.MaxValue, out _, out var error))
        {
            Assert.Equal(FrameError.None, error); // the project never sends a broken frame header
            return false;
        }
        int length = (int)reader.Consumed;
        frame = _pending[..length];
        _pending = _pending[length..];
        return true;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
