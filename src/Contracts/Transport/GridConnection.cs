using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Transport;

/// <summary>
/// One TCP connection to a silo, multiplexing requests by request id. Writers serialize a whole
/// frame into a pooled buffer and send it under a lock; one read loop parses replies from a
/// <see cref="PipeReader"/> and completes the waiting requests. When the connection breaks every
/// waiting request fails with <see cref="GridErrorCode.ConnectionLost"/>; callers reconnect.
/// <para>
/// A request allocates nothing in steady state: its waiter is a pooled <see cref="PendingRequest{TReply}"/>
/// awaited as a ValueTask, the frame is serialized into one buffer reused under the write lock, and
/// one timer per connection (the deadline sweep) fails requests whose reply is overdue and ends
/// writes the silo does not read, instead of a timer per request.
/// </para>
/// </summary>
public sealed class GridConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;

    // Whole frames go to the socket in one gathered send, unless TLS must encrypt them first.
    private readonly bool _gatheredSends;
    private readonly PipeReader _input;
    private readonly GridConnectionOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    private readonly Lock _pendingLock = new();
    private readonly CancellationTokenSource _closed = new();
    private readonly TimeProvider _time;
    private readonly long _requestTimeoutTicks;
    private readonly ITimer _sweep;

    // The buffers of one gathered write (a frame's head and its trailer); reused under _writeLock.
    private readonly List<ArraySegment<byte>> _gather = new(16);
    private readonly GatheredSend _gatheredSend = new();

    // The frame being written (head only when a trailer goes from its own buffers); reused under _writeLock.
    private readonly PooledBufferWriter _frame = new(FrameHeader.Size + 256);

    // When the write in progress must have finished (a timestamp), or long.MaxValue; the sweep closes the connection past it.
    private long _writeDeadline = long.MaxValue;
    private Task _readLoop = Task.CompletedTask;
    private long _nextRequestId;
    private string? _closeReason;

    // The principals this connection proved (or is proving), shared by every request that needs one.
    private readonly ConcurrentDictionary<(PrincipalKind Kind, string Name), (DataPlaneCredential Credential, Lazy<Task> Proof)> _authenticated = new();

    private GridConnection(Socket socket, Stream stream, string endpoint, GridConnectionOptions options)
    {
        _socket = socket;
        _stream = stream;
        _gatheredSends = stream is NetworkStream;
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024));
        _options = options;
        _time = options.TimeProvider;
        _requestTimeoutTicks = TimeoutTicks(options.RequestTimeout, _time);
        Endpoint = endpoint;
        var period = SweepPeriod(options.RequestTimeout);
        _sweep = _time.CreateTimer(static state => ((GridConnection)state!).Sweep(), this, period, period);
    }

    /// <summary>How often the deadline sweep runs: a request fails between RequestTimeout and RequestTimeout plus this after its write.</summary>
    internal static TimeSpan SweepPeriod(TimeSpan requestTimeout) =>
        TimeSpan.FromTicks(Math.Clamp(requestTimeout.Ticks / 8, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(1).Ticks));

    private static long TimeoutTicks(TimeSpan timeout, TimeProvider time) =>
        timeout >= TimeSpan.FromDays(365) ? long.MaxValue / 2 : (long)(timeout.TotalSeconds * time.TimestampFrequency);

    /// <summary>"host:port" of the silo.</summary>
    public string Endpoint { get; }

    /// <summary>The silo's answer to our Hello.</summary>
    public HelloOk Remote { get; private set; }

    public bool IsConnected => !_closed.IsCancellationRequested;

    /// <summary>Fires once when the connection closes for any reason.</summary>
    public CancellationToken Closed => _closed.Token;

    public int PendingRequests
    {
        get
        {
            lock (_pendingLock) return _pending.Count;
        }
    }

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

        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (options.Tls is { } tls)
        {
            var ssl = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: false);
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            handshake.CancelAfter(options.ConnectTimeout);
            try
            {
                await ssl.AuthenticateAsClientAsync(tls.ClientOptions(host), handshake.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
                if (e is not (System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException) || cancellationToken.IsCancellationRequested) throw;
                throw e is System.Security.Authentication.AuthenticationException
                    ? new GridException(GridErrorCode.Unauthorized, $"TLS with silo {host}:{port} failed: {e.Message} (is its certificate the one this client trusts?)", e)
                    : new GridException(GridErrorCode.SiloUnavailable, $"TLS with silo {host}:{port} did not complete: {e.Message}", e);
            }
            stream = ssl;
        }
        var connection = new GridConnection(socket, stream, $"{host}:{port}", options);
        connection._readLoop = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
        try
        {
            // The handshake counts against ConnectTimeout too: a hung silo may still accept TCP connections.
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            handshake.CancelAfter(options.ConnectTimeout);
            connection.Remote = await connection.RequestAsync<Hello, HelloOk>(MessageType.Hello, Hello.ForThisBuild(options.PeerName), handshake.Token).ConfigureAwait(false);
            await connection.EnsureAuthenticatedAsync(options.Credential, handshake.Token).ConfigureAwait(false);
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

    /// <summary>
    /// Proves <paramref name="credential"/> on this connection (an Authenticate over the silo's
    /// challenge) unless it has already; requests of that principal may follow. Nothing to do without
    /// a credential or when the silo asks for none. A refused proof throws Unauthorized, and the silo
    /// closes the connection.
    /// </summary>
    public ValueTask EnsureAuthenticatedAsync(DataPlaneCredential? credential, CancellationToken cancellationToken = default)
    {
        if (credential is null || Remote.Challenge is not { Length: > 0 }) return default;
        var key = (credential.Kind, credential.Name);
        // The hot path (every push and fetch): this very credential proved already, nothing allocated.
        if (_authenticated.TryGetValue(key, out var known) && ReferenceEquals(known.Credential, credential)
            && known.Proof.IsValueCreated && known.Proof.Value.IsCompletedSuccessfully)
            return default;
        // One proof per credential, shared by every request that waits for it (Lazy: the factory may run twice, the proof once).
        // Another credential for the principal (its secret was replaced) proves itself again, and the silo binds the new key.
        var entry = _authenticated.AddOrUpdate(key,
            static (_, state) => (state.Credential, state.Connection.NewProof(state.Credential)),
            static (_, current, state) => ReferenceEquals(current.Credential, state.Credential) ? current : (state.Credential, state.Connection.NewProof(state.Credential)),
            (Connection: this, Credential: credential));
        var task = entry.Proof.Value;
        if (task.IsCompletedSuccessfully) return default;
        if (!task.IsCompleted)
        {
            // Forgotten once it fails (that entry only: a newer one stays), so a later request tries again.
            _ = task.ContinueWith(static (_, state) =>
            {
                var (connection, k, e) = ((GridConnection, (PrincipalKind, string), (DataPlaneCredential, Lazy<Task>)))state!;
                connection._authenticated.TryRemove(KeyValuePair.Create(k, e));
            }, (this, key, entry), CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
        }
        else
        {
            _authenticated.TryRemove(KeyValuePair.Create(key, entry));
        }
        return new ValueTask(task.WaitAsync(cancellationToken));
    }

    private Lazy<Task> NewProof(DataPlaneCredential credential) => new(() =>
        RequestAsync<Authenticate, Empty>(MessageType.Authenticate,
            new Authenticate(credential.Kind, credential.Name, credential.Prove(Remote.Challenge, Remote.SiloIdentity))).AsTask());

    /// <summary>Sends a request and waits for its reply. Error replies throw <see cref="GridException"/>.</summary>
    /// <param name="bodySizeHint">Expected body size, so large bodies are serialized without regrowing the buffer.</param>
    public ValueTask<GridResponse> SendAsync<T>(
        MessageType type, T body, CancellationToken cancellationToken = default, FrameFlags flags = FrameFlags.None, int bodySizeHint = 256)
        where T : IWireMessage<T> =>
        SendAsync(type, body, ReadOnlySequence<byte>.Empty, cancellationToken, flags, bodySizeHint);

    /// <summary>
    /// Sends a request whose body is what <paramref name="head"/> writes followed by
    /// <paramref name="trailer"/>, which is written to the socket from its own buffers (gathered, not
    /// copied into the frame). The trailer's memory must stay unchanged until this returns. The reply
    /// body is copied into a pooled buffer: dispose the response.
    /// </summary>
    public ValueTask<GridResponse> SendAsync<T>(
        MessageType type, T head, ReadOnlySequence<byte> trailer, CancellationToken cancellationToken = default, FrameFlags flags = FrameFlags.None, int bodySizeHint = 256)
        where T : IWireMessage<T> =>
        RequestAsync(type, head, trailer, ReplyReaders.Response, cancellationToken, flags, bodySizeHint);

    /// <summary>
    /// Sends a request and reads its reply as <typeparamref name="TReply"/> straight from the
    /// connection's buffer, so nothing is copied or allocated for the reply (a small one, such as a
    /// push's). Error replies throw <see cref="GridException"/>; so does a reply that does not decode.
    /// </summary>
    public ValueTask<TReply> RequestAsync<T, TReply>(
        MessageType type, T head, ReadOnlySequence<byte> trailer, CancellationToken cancellationToken = default)
        where T : IWireMessage<T>
        where TReply : IWireMessage<TReply> =>
        RequestAsync(type, head, trailer, ReplyReaders.Message<TReply>.Read, cancellationToken, FrameFlags.None, 256);

    /// <inheritdoc cref="RequestAsync{T, TReply}(MessageType, T, ReadOnlySequence{byte}, CancellationToken)"/>
    public ValueTask<TReply> RequestAsync<T, TReply>(MessageType type, T body, CancellationToken cancellationToken = default)
        where T : IWireMessage<T>
        where TReply : IWireMessage<TReply> =>
        RequestAsync<T, TReply>(type, body, ReadOnlySequence<byte>.Empty, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TReply> RequestAsync<T, TReply>(
        MessageType type, T head, ReadOnlySequence<byte> trailer, Func<ReadOnlySequence<byte>, TReply> read,
        CancellationToken cancellationToken, FrameFlags flags, int bodySizeHint)
        where T : IWireMessage<T>
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextRequestId);
        var request = PendingRequest<TReply>.Rent(this, id, type, read);
        lock (_pendingLock)
        {
            if (!IsConnected)
            {
                request.ReturnUnsent();
                throw Lost();
            }
            if (!_pending.TryAdd(id, request))
            {
                request.ReturnUnsent();
                throw new InvalidOperationException("Request id reused.");
            }
        }

        try
        {
            await WriteAsync(type, flags, id, head, trailer, bodySizeHint).ConfigureAwait(false);
        }
        catch
        {
            // Still ours if nobody removed it: then nobody else completes or awaits it.
            if (TryRemove(request))
            {
                request.ReturnUnsent();
                throw;
            }
            // The close took it and fails it with ConnectionLost; that is what the caller sees.
            return await request.Task.ConfigureAwait(false);
        }

        // The reply wait starts once the frame is out, as the write has a timeout of its own.
        Volatile.Write(ref request.Deadline, _time.GetTimestamp() + _requestTimeoutTicks);
        request.CancelWith(cancellationToken);
        return await request.Task.ConfigureAwait(false);
    }

    /// <summary>Sends a request whose reply body is not needed.</summary>
    public async Task SendAndForgetReplyAsync<T>(MessageType type, T body, CancellationToken cancellationToken = default) where T : IWireMessage<T>
    {
        using var _ = await SendAsync(type, body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cancellation of a request's caller: the request fails with OperationCanceledException unless it already completed.</summary>
    internal void CancelPending(PendingRequest request, CancellationToken cancellationToken)
    {
        if (TryRemove(request)) request.Fail(new OperationCanceledException(cancellationToken));
    }

    private bool TryRemove(PendingRequest request)
    {
        lock (_pendingLock)
        {
            return _pending.TryGetValue(request.Id, out var found) && ReferenceEquals(found, request) && _pending.Remove(request.Id);
        }
    }

    /// <summary>
    /// The deadline sweep, on the connection's timer: fails every request whose reply is overdue with
    /// Timeout, and closes the connection when a write has outlasted the request timeout.
    /// </summary>
    private void Sweep()
    {
        long now = _time.GetTimestamp();
        if (now > Volatile.Read(ref _writeDeadline))
        {
            Close("the silo did not read a frame within the request timeout");
            return;
        }
        // Bounded: at most one expired request per pass of the table, and the table only shrinks meanwhile.
        while (true)
        {
            PendingRequest? expired = null;
            lock (_pendingLock)
            {
                foreach (var (id, request) in _pending)
                {
                    if (now <= Volatile.Read(ref request.Deadline)) continue;
                    _pending.Remove(id);
                    expired = request;
                    break;
                }
            }
            if (expired is null) return;
            expired.Fail(new GridException(GridErrorCode.Timeout,
                $"{expired.Type} to silo {Endpoint} got no reply within {_options.RequestTimeout.TotalSeconds:0.#} s."));
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteAsync<T>(MessageType type, FrameFlags flags, ulong id, T head, ReadOnlySequence<byte> trailer, int bodySizeHint)
        where T : IWireMessage<T>
    {
        // A write is not cancelled by the caller: half a frame would corrupt the stream for every
        // other request. Only a silo that stops reading for a whole request timeout ends it (the
        // sweep closes the connection).
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            // Serializing throws before anything is written (an oversized frame): the connection goes on.
            _frame.Reset();
            _frame.GetSpan(FrameHeader.Size + Math.Max(bodySizeHint, 64));
            FrameWriter.Write(_frame, type, flags, id, head, _options.MaxFrameBodyBytes, trailer.Length);
            await WriteFrameAsync(_frame.WrittenMemory, trailer).ConfigureAwait(false);
        }
        finally
        {
            // A huge body (not a trailer) grew the buffer: do not keep it for every later frame.
            _frame.ShrinkTo(MaxKeptFrameBytes);
            _writeLock.Release();
        }
    }

    /// <summary>Frame buffer kept between writes; heads of pushes are far smaller.</summary>
    private const int MaxKeptFrameBytes = 64 * 1024;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteFrameAsync(ReadOnlyMemory<byte> frame, ReadOnlySequence<byte> trailer)
    {
        try
        {
            Volatile.Write(ref _writeDeadline, _time.GetTimestamp() + _requestTimeoutTicks);
            if (trailer.IsEmpty || !_gatheredSends || !GatherAll(frame, trailer))
            {
                await _stream.WriteAsync(frame, _closed.Token).ConfigureAwait(false);
                foreach (var segment in trailer) await _stream.WriteAsync(segment, _closed.Token).ConfigureAwait(false);
            }
            else
            {
                // One sendmsg for the head and every trailer buffer: one wake-up of the silo per frame, no copy.
                // A send the silo does not take ends when the sweep closes the socket; it is waited for
                // here either way, since the caller reuses the buffers afterwards.
                int length = frame.Length + (int)trailer.Length;
                int sent = await _gatheredSend.SendAsync(_socket, _gather).ConfigureAwait(false);
                if (sent != length) throw new IOException($"sent {sent} of {length} bytes");
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Close(e is OperationCanceledException ? "the silo did not read a frame within the request timeout" : "write failed: " + e.Message);
            throw Lost();
        }
        finally
        {
            Volatile.Write(ref _writeDeadline, long.MaxValue);
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
                if (error == FrameError.None && WantsDirectBody(reader, out var header))
                {
                    // A large reply body (a chunk) goes from the socket straight into the buffer it is
                    // handed out in: one copy instead of one into the pipe and one out of it.
                    var body = ArrayPool<byte>.Shared.Rent(header.BodyLength);
                    var buffered = reader.UnreadSequence.Slice(FrameHeader.Size);
                    buffered.CopyTo(body);
                    _input.AdvanceTo(buffer.End);
                    if (!await ReceiveBodyAsync(header, body, (int)buffered.Length).ConfigureAwait(false))
                    {
                        reason = "the silo closed the connection inside a frame";
                        break;
                    }
                    DirectBodyReads++;
                    continue;
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

    /// <summary>Reply bodies read straight from the socket so far (read by tests; written by the read loop only).</summary>
    internal long DirectBodyReads { get; private set; }

    /// <summary>Reply bodies at least this long, awaited as a <see cref="GridResponse"/>, are read straight into their own buffer.</summary>
    internal const int DirectBodyBytes = 64 * 1024;

    /// <summary>
    /// Whether the incomplete frame at the reader's position is a large reply that a request waits
    /// for as a <see cref="GridResponse"/>: then its body is read from the socket into the response's
    /// own buffer. Error replies, small replies and replies nobody waits for any more stay in the pipe.
    /// </summary>
    private bool WantsDirectBody(in SequenceReader<byte> reader, out FrameHeader header)
    {
        if (!FrameCodec.TryPeekHeader(reader, _options.MaxFrameBodyBytes, out header, out _)) return false;
        if (!header.IsResponse || header.IsError || header.BodyLength < DirectBodyBytes) return false;
        lock (_pendingLock)
        {
            return _pending.TryGetValue(header.RequestId, out var waiter) && waiter is PendingRequest<GridResponse>;
        }
    }

    /// <summary>
    /// Reads the rest of a body from the socket, bypassing the pipe (which holds nothing more), and
    /// hands it to its request. Owns <paramref name="body"/>: it goes to the request, or back to the
    /// pool when the connection ends first (false) or the read fails.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceiveBodyAsync(FrameHeader header, byte[] body, int filled)
    {
        bool whole = false;
        try
        {
            // Bounded by the body's length: each round reads at least one byte, or ends.
            while (filled < header.BodyLength)
            {
                int read = await _stream.ReadAsync(body.AsMemory(filled, header.BodyLength - filled)).ConfigureAwait(false);
                if (read == 0) return false;
                filled += read;
            }
            whole = true;
        }
        finally
        {
            if (!whole) ArrayPool<byte>.Shared.Return(body);
        }
        CompleteOwned(header, body);
        return true;
    }

    /// <summary>Hands a body read into its own buffer to its request, which then owns the buffer; returns it when nobody waits any more.</summary>
    private void CompleteOwned(FrameHeader header, byte[] body)
    {
        PendingRequest? waiter;
        lock (_pendingLock)
        {
            // It may have timed out or been cancelled while its body was read.
            if (!_pending.Remove(header.RequestId, out waiter)) waiter = null;
        }
        if (waiter is PendingRequest<GridResponse> response)
        {
            var owned = GridResponse.Own(body, header.BodyLength);
            if (!response.CompleteWith(owned)) owned.Dispose();
            return;
        }
        waiter?.Complete(new ReadOnlySequence<byte>(body, 0, header.BodyLength));
        ArrayPool<byte>.Shared.Return(body);
    }

    private void Complete(in Frame frame)
    {
        if (frame.Header.RequestId == 0 && frame.Header.IsError)
        {
            // Request id 0 is never used by requests: the silo reports a connection-level error before it closes.
            _closeReason = ReadError(frame).Message;
            return;
        }
        if (!frame.Header.IsResponse) return;
        PendingRequest? waiter;
        lock (_pendingLock)
        {
            // A reply after a timeout or a cancellation finds nothing: ids are never reused.
            if (!_pending.Remove(frame.Header.RequestId, out waiter)) return;
        }
        if (frame.Header.IsError)
        {
            var error = ReadError(frame);
            waiter.Fail(new GridException(error.Code, error.Message));
            return;
        }
        waiter.Complete(frame.Body);
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
        _sweep.Dispose();
        // No request is added after _closed is set (RequestAsync checks it under the same lock).
        PendingRequest[] lost;
        lock (_pendingLock)
        {
            lost = [.. _pending.Values];
            _pending.Clear();
        }
        foreach (var waiter in lost) waiter.Fail(Lost());
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _stream.Dispose();
    }

    private GridException Lost() => new(GridErrorCode.ConnectionLost, $"Connection to silo {Endpoint} lost: {_closeReason ?? "closed"}.");

    public async ValueTask DisposeAsync()
    {
        Close("closed by this side");
        try { await _readLoop.ConfigureAwait(false); } catch (Exception) { /* the loop reports through Close */ }
        // A write still stuck in the socket keeps the frame buffer (and the collector takes it); else it goes back to the pool.
        if (!_writeLock.Wait(0)) return;
        try
        {
            _frame.Dispose();
            _gatheredSend.Dispose();
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
