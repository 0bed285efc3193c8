using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Shuffle.Silo.Logging;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Kestrel connection handler of the data endpoint. Its read loop parses frames from the
/// connection's pipe and hands each to the <see cref="DataRequestRouter"/>. Framing errors (oversized,
/// bad header) get an error reply and close this connection only; everything else gets an error
/// reply and the connection goes on. One deadline (<see cref="ConnectionDeadline"/>) bounds every
/// wait on the peer: the Hello (HandshakeTimeout), the rest of a frame begun (FrameReadTimeout) and
/// the next frame when nothing is in flight (IdleTimeout); a connection that misses it is closed.
/// </summary>
public sealed class DataConnectionHandler(DataRequestRouter router, DataPlaneMemory memory, IOptions<DataEndpointOptions> options, ILogger<DataConnectionHandler> logger) : ConnectionHandler
{
    private readonly DataEndpointOptions _options = options.Value;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        // Closed by the peer, or asked to close by Kestrel because the silo is stopping.
        var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed, closeRequested);
        var session = new GridSession(connection.ConnectionId, connection.RemoteEndPoint?.ToString(),
            new ConnectionResponder(connection.Transport.Output, _options.MaxFrameBodyBytes, _options.BlockBytes), closing.Token);
        using var deadline = new ConnectionDeadline(memory.Time, () => session.HasRequestsInFlight);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(closing.Token, deadline.Expired);
        deadline.Arm(DeadlineKind.Handshake, _options.HandshakeTimeout);
        memory.ConnectionOpened();
        bool framePending = false;
        string reason = "closed by peer";
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(reading.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = buffer.Start;
                bool close = false;
                bool handled = false;
                FrameError error = FrameError.None;
                deadline.Pause();
                try
                {
                    while (!close && TryParse(buffer.Slice(consumed), _options.MaxFrameBodyBytes, out var frame, out var next, out error))
                    {
                        consumed = next;
                        handled = true;
                        close = await router.HandleAsync(frame, session).ConfigureAwait(false);
                    }
                }
                finally
                {
                    deadline.Resume();
                }
                var unread = buffer.Slice(consumed);
                bool pending = !unread.IsEmpty;
                long largeFrame = error == FrameError.None && !close ? LargeFrameLength(unread) : 0;
                if (largeFrame > 0 && !session.Handshaken)
                {
                    // Only a Hello may come before the handshake, and it is small: a stranger gets no buffer of megabytes.
                    error = FrameError.Oversized;
                }
                input.AdvanceTo(consumed, buffer.End);
                if (largeFrame > 0 && error == FrameError.None)
                {
                    // A frame that began this round (the one pending before was handled, or none was) gets its own deadline.
                    if (!framePending || handled) deadline.Arm(DeadlineKind.Frame, _options.FrameReadTimeout);
                    var read = await ReadLargeFrameAsync(input, (int)largeFrame, session, deadline, reading.Token).ConfigureAwait(false);
                    if (read is null) session.CloseReason = "closed by peer inside a frame";
                    close = read ?? true;
                    handled = true;
                    pending = false;
                }
                if (error != FrameError.None)
                {
                    var code = error == FrameError.Oversized ? GridErrorCode.FrameTooLarge : GridErrorCode.MalformedFrame;
                    reason = error == FrameError.Oversized
                        ? $"frame larger than {(session.Handshaken ? _options.MaxFrameBodyBytes : _options.ReceiveBufferBytes)} bytes"
                        : "malformed frame header";
                    await CloseWithErrorAsync(session, code, reason).ConfigureAwait(false);
                    break;
                }
                if (close)
                {
                    reason = session.CloseReason ?? "closed by silo";
                    break;
                }
                if (result.IsCompleted || result.IsCanceled) break;
                // The Hello's deadline runs from the accept; after it, each frame handled starts the next wait afresh.
                if (session.Handshaken && (handled || pending != framePending))
                {
                    deadline.Arm(pending ? DeadlineKind.Frame : DeadlineKind.Idle, pending ? _options.FrameReadTimeout : _options.IdleTimeout);
                }
                framePending = pending;
            }
        }
        catch (OperationCanceledException) when (deadline.Expired.IsCancellationRequested && !closing.IsCancellationRequested)
        {
            reason = deadline.Kind switch
            {
                DeadlineKind.Handshake => $"no Hello within {_options.HandshakeTimeout.TotalSeconds:0.#} s",
                DeadlineKind.Idle => $"idle for {_options.IdleTimeout.TotalSeconds:0.#} s",
                _ => $"a frame did not arrive whole within {_options.FrameReadTimeout.TotalSeconds:0.#} s",
            };
            // The peer of a frame cut short may be waiting for its reply: tell it why. Idle and Hello-less peers wait for nothing.
            if (deadline.Kind == DeadlineKind.Frame) await CloseWithErrorAsync(session, GridErrorCode.Timeout, reason).ConfigureAwait(false);
        }
        catch (LargeFrameRefusedException e)
        {
            reason = e.Message;
            await CloseWithErrorAsync(session, GridErrorCode.Timeout, reason).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or OperationCanceledException or ObjectDisposedException)
        {
            reason = e.Message;
        }
        finally
        {
            // Half a frame on the wire: abort now, so replies still to come fail at once on both sides
            // instead of landing inside the broken frame.
            if (session.Responder.Broken) connection.Abort(new ConnectionAbortedException(reason));
            await session.WaitForBackgroundRequestsAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            session.Responder.Dispose();
            SiloLog.ConnectionClosed(logger, connection.ConnectionId, session.Remote, reason);
            memory.ConnectionClosed();
        }
    }

    /// <summary>A connection-level error (request id 0), then the loop closes the connection.</summary>
    private static async ValueTask CloseWithErrorAsync(GridSession session, GridErrorCode code, string reason)
    {
        try
        {
            await session.Responder.ReplyErrorAsync(new FrameHeader(0, 0, FrameFlags.None, 0), code, "Closing the connection: " + reason + ".").ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or ConnectionResetException)
        {
            // The peer is gone already; the close is what matters.
        }
    }

    /// <summary>
    /// The whole length of the frame starting <paramref name="unread"/> when it cannot fit the receive
    /// pipe (<see cref="DataEndpointOptions.ReceiveBufferBytes"/>), else 0. Called only after the parser
    /// found the frame incomplete and its header valid.
    /// </summary>
    private long LargeFrameLength(ReadOnlySequence<byte> unread)
    {
        if (unread.Length < FrameHeader.Size) return 0;
        Span<byte> length = stackalloc byte[sizeof(int)];
        unread.Slice(0, sizeof(int)).CopyTo(length);
        long frame = FrameHeader.Size + (long)BinaryPrimitives.ReadInt32LittleEndian(length);
        return frame > _options.ReceiveBufferBytes ? frame : 0;
    }

    /// <summary>
    /// Copies a frame larger than the receive pipe out of it as it arrives, into pieces
    /// (<see cref="LargeFrameBuffer"/>), then handles it. The frame's whole length is reserved from
    /// the silo's <see cref="LargeFrameBudget"/> first; until it is, nothing more is read from this
    /// connection. Returns whether to close, or null when the peer closed before the frame's end.
    /// One copy more than a frame parsed in the pipe, paid only by frames above ReceiveBufferBytes;
    /// the client's pushes are 64 KiB by default.
    /// </summary>
    private async ValueTask<bool?> ReadLargeFrameAsync(PipeReader input, int frameLength, GridSession session, ConnectionDeadline deadline, CancellationToken cancellation)
    {
        var budget = memory.LargeFrames;
        // The body's bytes: what the budget's limit is compared with (MaxFrameBodyBytes); the 16 header bytes ride along.
        int bodyLength = frameLength - FrameHeader.Size;
        if (!await budget.ReserveAsync(bodyLength, cancellation).ConfigureAwait(false))
        {
            if (!session.Closing.IsCancellationRequested)
                throw new LargeFrameRefusedException(
                    $"no memory for a frame body of {bodyLength} bytes within {_options.FrameReadTimeout.TotalSeconds:0.#} s " +
                    $"({budget.UsedBytes} of DataEndpoint:MaxLargeFrameBytes {budget.LimitBytes} held by other connections' frames)");
            throw new OperationCanceledException(session.Closing);
        }
        using var frameBytes = new LargeFrameBuffer(frameLength);
        try
        {
            // Bounded by the frame's length: every round takes at least one byte, or ends at the connection's end.
            while (frameBytes.Remaining > 0)
            {
                var result = await input.ReadAsync(cancellation).ConfigureAwait(false);
                var buffer = result.Buffer;
                int taken = frameBytes.Append(buffer);
                input.AdvanceTo(buffer.GetPosition(taken));
                if (frameBytes.Remaining > 0 && (result.IsCompleted || result.IsCanceled)) return null;
            }
            var reader = new SequenceReader<byte>(frameBytes.ToSequence());
            if (!FrameCodec.TryRead(ref reader, _options.MaxFrameBodyBytes, out var frame, out _))
                throw new InvalidOperationException("A frame whose header was checked did not parse once whole.");
            deadline.Pause();
            try
            {
                return await router.HandleAsync(frame, session).ConfigureAwait(false);
            }
            finally
            {
                deadline.Resume();
            }
        }
        finally
        {
            budget.Release(bodyLength);
            memory.LargeFrameDropped(frameBytes.Length - frameBytes.Remaining);
        }
    }

    private static bool TryParse(ReadOnlySequence<byte> buffer, int maxBody, out Frame frame, out SequencePosition next, out FrameError error)
    {
        var reader = new SequenceReader<byte>(buffer);
        bool parsed = FrameCodec.TryRead(ref reader, maxBody, out frame, out error);
        next = reader.Position;
        return parsed;
    }

    /// <summary>A large frame got no budget before its deadline.</summary>
    private sealed class LargeFrameRefusedException(string message) : Exception(message);
}
