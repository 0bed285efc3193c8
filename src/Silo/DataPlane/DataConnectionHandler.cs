using System.Buffers;
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
/// reply and the connection goes on. A connection that does not say Hello in time is closed.
/// </summary>
public sealed class DataConnectionHandler(DataRequestRouter router, IOptions<DataEndpointOptions> options, ILogger<DataConnectionHandler> logger) : ConnectionHandler
{
    private readonly DataEndpointOptions _options = options.Value;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        // Closed by the peer, or asked to close by Kestrel because the silo is stopping.
        var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed, closeRequested);
        var session = new GridSession(connection.ConnectionId, connection.RemoteEndPoint?.ToString(),
            new ConnectionResponder(connection.Transport.Output, _options.MaxFrameBodyBytes), closing.Token);
        using var handshakeDeadline = CancellationTokenSource.CreateLinkedTokenSource(closing.Token);
        handshakeDeadline.CancelAfter(_options.HandshakeTimeout);
        string reason = "closed by peer";
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(session.Handshaken ? closing.Token : handshakeDeadline.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = buffer.Start;
                bool close = false;
                FrameError error = FrameError.None;
                while (!close && TryParse(buffer.Slice(consumed), _options.MaxFrameBodyBytes, out var frame, out var next, out error))
                {
                    consumed = next;
                    close = await router.HandleAsync(frame, session).ConfigureAwait(false);
                }
                input.AdvanceTo(consumed, buffer.End);
                if (error != FrameError.None)
                {
                    var code = error == FrameError.Oversized ? GridErrorCode.FrameTooLarge : GridErrorCode.MalformedFrame;
                    reason = error == FrameError.Oversized
                        ? $"frame larger than {_options.MaxFrameBodyBytes} bytes"
                        : "malformed frame header";
                    await session.Responder.ReplyErrorAsync(new FrameHeader(0, 0, FrameFlags.None, 0), code, "Closing the connection: " + reason + ".").ConfigureAwait(false);
                    break;
                }
                if (close)
                {
                    reason = session.CloseReason ?? "closed by silo";
                    break;
                }
                if (result.IsCompleted || result.IsCanceled) break;
            }
        }
        catch (OperationCanceledException) when (!session.Handshaken && !closing.IsCancellationRequested)
        {
            reason = $"no Hello within {_options.HandshakeTimeout.TotalSeconds:0.#} s";
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
        }
    }

    private static bool TryParse(ReadOnlySequence<byte> buffer, int maxBody, out Frame frame, out SequencePosition next, out FrameError error)
    {
        var reader = new SequenceReader<byte>(buffer);
        bool parsed = FrameCodec.TryRead(ref reader, maxBody, out frame, out error);
        next = reader.Position;
        return parsed;
    }
}
