using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Transport;

/// <summary>
/// One TCP connection to a silo, multiplexing requests by request id. Writers serialize a whole
/// frame into a pooled buffer and send it under a lock; one read loop parses replies from a
/// <see cref="PipeReader"/> and completes the waiting requests. When the connection breaks every
/// waiting request fails with <see cref="GridErrorCode.ConnectionLost"/>; callers reconnect.
/// </summary>
public sealed class GridConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly GridConnectionOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<GridResponse>> _pending = new();
    private readonly CancellationTokenSource _closed = new();
    private readonly CancellationTokenSource _writeTimeout = new();

    // The buffers of one gathered write (a frame's head and its trailer); reused under _writeLock.
    private readonly List<ArraySegment<byte>> _gather = new(16);
    private Task _readLoop = Task.CompletedTask;
    private long _nextRequestId;
    private string? _closeReason;

    private GridConnection(Socket socket, string endpoint, GridConnectionOptions options)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024));
        _options = options;
        Endpoint = endpoint;
    }

    /// <summary>"host:port" of the silo.</summary>
    public string Endpoint { get; }

    /// <summary>The silo's answer to our Hello.</summary>
    public HelloOk Remote { get; private set; }

    public bool IsConnected => !_closed.IsCancellationRequested;

    /// <summary>Fires once when the connection closes for any reason.</summary>
    public CancellationToken Closed => _closed.Token;

    public int PendingRequests => _pending.Count;

    public static async Task<GridConnection> ConnectAsync(string host, int port, GridConnectionOptions options, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new GridException(GridErrorCode.SiloUnavailable, $"Cannot connect to silo {host}:{port}: {e.Message}", e);
            }
        }

        var connection = new GridConnection(socket, $"{host}:{port}", options);
        connection._readLoop = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
        try
        {
            // The handshake counts against ConnectTimeout too: a hung silo may still accept TCP connections.
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            handshake.CancelAfter(options.ConnectTimeout);
            using var reply = await connection.SendAsync(MessageType.Hello, Hello.ForThisBuild(options.PeerName), handshake.Token).ConfigureAwait(false);
            connection.Remote = reply.Read<HelloOk>();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new GridException(GridErrorCode.SiloUnavailable, $"Silo {host}:{port} did not answer Hello within {options.ConnectTimeout.TotalSeconds:0.#} s.");
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    /// <summary>Sends a request and waits for its reply. Error replies throw <see cref="GridException"/>.</summary>
    /// <param name="bodySizeHint">Expected body size, so large bodies are serialized without regrowing the buffer.</param>
    public Task<GridResponse> SendAsync<T>(
        MessageType type, T body, CancellationToken cancellationToken = default, FrameFlags flags = FrameFlags.None, int bodySizeHint = 256)
        where T : IWireMessage<T> =>
        SendAsync(type, body, ReadOnlySequence<byte>.Empty, cancellationToken, flags, bodySizeHint);

    /// <summary>
    /// Sends a request whose body is what <paramref name="head"/> writes followed by
    /// <paramref name="trailer"/>, which is written to the socket from its own buffers (gathered, not
    /// copied into the frame). The trailer's memory must stay unchanged until this returns.
    /// </summary>
    public async Task<GridResponse> SendAsync<T>(
        MessageType type, T head, ReadOnlySequence<byte> trailer, CancellationToken cancellationToken = default, FrameFlags flags = FrameFlags.None, int bodySizeHint = 256)
        where T : IWireMessage<T>
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextRequestId);
        var reply = new TaskCompletionSource<GridResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (var frame = new PooledBufferWriter(FrameHeader.Size + Math.Max(bodySizeHint, 64)))
        {
            FrameWriter.Write(frame, type, flags, id, head, _options.MaxFrameBodyBytes, trailer.Length);
            if (!_pending.TryAdd(id, reply)) throw new InvalidOperationException("Request id reused.");
            if (!IsConnected)
            {
                _pending.TryRemove(id, out _);
                throw Lost();
            }
            await WriteAsync(frame.WrittenMemory, trailer).ConfigureAwait(false);
        }

        try
        {
            return await reply.Task.WaitAsync(_options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _pending.TryRemove(id, out _);
            throw new GridException(GridErrorCode.Timeout, $"{type} to silo {Endpoint} got no reply within {_options.RequestTimeout.TotalSeconds:0.#} s.");
        }
        catch (OperationCanceledException)
        {
            _pending.TryRemove(id, out _);
            throw;
        }
    }

    /// <summary>Sends a request whose reply body is not needed.</summary>
    public async Task SendAndForgetReplyAsync<T>(MessageType type, T body, CancellationToken cancellationToken = default) where T : IWireMessage<T>
    {
        using var _ = await SendAsync(type, body, cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteAsync(ReadOnlyMemory<byte> frame, ReadOnlySequence<byte> trailer)
    {
        // A write is not cancelled by the caller: half a frame would corrupt the stream for every
        // other request. Only a silo that stops reading for a whole request timeout ends it, and
        // then the connection is closed.
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (trailer.IsEmpty || !GatherAll(frame, trailer))
            {
                _writeTimeout.CancelAfter(_options.RequestTimeout);
                await _stream.WriteAsync(frame, _writeTimeout.Token).ConfigureAwait(false);
                foreach (var segment in trailer) await _stream.WriteAsync(segment, _writeTimeout.Token).ConfigureAwait(false);
                _writeTimeout.TryReset();
            }
            else
            {
                // One sendmsg for the head and every trailer buffer: one wake-up of the silo per frame, no copy.
                await SendGatheredAsync(frame.Length + trailer.Length).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or TimeoutException)
        {
            Close(e is OperationCanceledException or TimeoutException ? "the silo did not read a frame within the request timeout" : "write failed: " + e.Message);
            throw Lost();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Sends <see cref="_gather"/>. A send that outlasts the request timeout is ended by closing the
    /// connection, and waited for before this returns: the caller reuses the buffers afterwards.
    /// </summary>
    private async Task SendGatheredAsync(long length)
    {
        var send = _socket.SendAsync(_gather, SocketFlags.None);
        try
        {
            int sent = await send.WaitAsync(_options.RequestTimeout).ConfigureAwait(false);
            if (sent != length) throw new IOException($"sent {sent} of {length} bytes");
        }
        catch (TimeoutException)
        {
            Close("the silo did not read a frame within the request timeout");
            try { await send.ConfigureAwait(false); } catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException) { }
            throw;
        }
    }

    /// <summary>Fills <see cref="_gather"/> with the frame's buffers; false if one is not array-backed (then the stream writes them one by one). Under the write lock.</summary>
    private bool GatherAll(ReadOnlyMemory<byte> frame, ReadOnlySequence<byte> trailer)
    {
        _gather.Clear();
        if (!MemoryMarshal.TryGetArray(frame, out var head)) return false;
        _gather.Add(head);
        foreach (var memory in trailer)
        {
            if (!MemoryMarshal.TryGetArray(memory, out var segment)) return false;
            _gather.Add(segment);
        }
        return true;
    }

    private async Task ReadLoopAsync()
    {
        string reason = "closed by the silo";
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var reader = new SequenceReader<byte>(buffer);
                FrameError error;
                while (FrameCodec.TryRead(ref reader, _options.MaxFrameBodyBytes, out var frame, out error))
                {
                    Complete(frame);
                }
                _input.AdvanceTo(reader.Position, buffer.End);
                if (error != FrameError.None)
                {
                    reason = $"the silo sent an invalid frame ({error})";
                    break;
                }
                if (result.IsCompleted || result.IsCanceled) break;
            }
        }
        catch (Exception e)
        {
            reason = e.Message;
        }
        finally
        {
            Close(reason);
            await _input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private void Complete(in Frame frame)
    {
        if (frame.Header.RequestId == 0 && frame.Header.IsError)
        {
            // Request id 0 is never used by requests: the silo reports a connection-level error before it closes.
            _closeReason = ReadError(frame).Message;
            return;
        }
        if (!frame.Header.IsResponse || !_pending.TryRemove(frame.Header.RequestId, out var waiter)) return;
        if (frame.Header.IsError)
        {
            var error = ReadError(frame);
            waiter.TrySetException(new GridException(error.Code, error.Message));
            return;
        }
        var response = new GridResponse(frame.Body);
        if (!waiter.TrySetResult(response)) response.Dispose();
    }

    private static ErrorReply ReadError(in Frame frame)
    {
        try
        {
            var reader = new WireReader(frame.Body);
            return ErrorReply.Read(ref reader);
        }
        catch (GridException e)
        {
            return new ErrorReply(GridErrorCode.MalformedFrame, e.Message);
        }
    }

    private void Close(string reason)
    {
        lock (_closed)
        {
            if (_closed.IsCancellationRequested) return;
            _closeReason ??= reason;
            _closed.Cancel();
        }
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var waiter)) waiter.TrySetException(Lost());
        }
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _stream.Dispose();
    }

    private GridException Lost() => new(GridErrorCode.ConnectionLost, $"Connection to silo {Endpoint} lost: {_closeReason ?? "closed"}.");

    public async ValueTask DisposeAsync()
    {
        Close("closed by this side");
        try { await _readLoop.ConfigureAwait(false); } catch (Exception) { /* the loop reports through Close */ }
    }
}
