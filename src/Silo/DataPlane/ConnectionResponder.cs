using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Writes reply frames to one connection. Replies come from the read loop and from handlers running
/// in the background, so writes are serialized; each reply is flushed as a whole. One frame buffer
/// per connection is reused under the write lock, so a reply allocates nothing.
/// </summary>
/// <param name="sliceBytes">
/// A chunk goes into the pipe in slices of this size, each flushed before the next is read, so a
/// connection buffers a few slices (up to the transport's write-buffer limit) instead of a whole chunk.
/// The endpoint gives its pool's block size (<see cref="DataEndpointOptions.BlockBytes"/>), so each
/// slice is one pooled block; a slice larger than a block would be an array from ArrayPool.Shared.
/// </param>
internal sealed class ConnectionResponder(PipeWriter output, int maxBodyBytes, int sliceBytes = ConnectionResponder.DefaultSliceBytes) : IDisposable
{
    /// <summary>The default slice: the endpoint's default block, and below 85,000 bytes, so off the large object heap.</summary>
    internal const int DefaultSliceBytes = 64 * 1024;

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly PooledBufferWriter _frame = new(FrameHeader.Size + 256);

    // Set when the connection's stream holds half a frame (a reply failed after its header) or the
    // responder was disposed: later replies are refused, since the peer could not parse them.
    private volatile bool _broken;
    private volatile bool _disposed;

    /// <summary>True once a reply failed after its header was written: the connection must be aborted.</summary>
    public bool Broken => _broken;

    public ValueTask ReplyAsync<T>(FrameHeader request, T body) where T : IWireMessage<T> =>
        WriteFrameAsync(request, FrameFlags.Response, body, maxBodyBytes);

    /// <summary>An error reply: the ErrorReply body under the Response and Error flags (its message is bounded, so no frame limit applies).</summary>
    public ValueTask ReplyErrorAsync(FrameHeader request, GridErrorCode code, string message) =>
        WriteFrameAsync(request, FrameFlags.Response | FrameFlags.Error, new ErrorReply(code, message), int.MaxValue);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteFrameAsync<T>(FrameHeader request, FrameFlags flags, T body, int maxBody) where T : IWireMessage<T>
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            ThrowIfUnusable();
            _frame.Reset();
            FrameWriter.Write(_frame, request.Type, flags, request.RequestId, body, maxBody);
            await output.WriteAsync(_frame.WrittenMemory).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Writes a reply whose body is already in memory (a filtered chunk), in slices.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReplyRawAsync(FrameHeader request, ReadOnlyMemory<byte> body)
    {
        CheckSize(request, body.Length);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            ThrowIfUnusable();
            WriteHeader(request, body.Length);
            try
            {
                for (int sent = 0; sent < body.Length; sent += sliceBytes)
                {
                    var slice = body.Slice(sent, Math.Min(sliceBytes, body.Length - sent));
                    if ((await output.WriteAsync(slice).ConfigureAwait(false)).IsCompleted) break;
                }
                if (body.Length == 0) await output.FlushAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _broken = true;
                throw new HalfSentReplyException(e);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Writes a whole chunk of a partition file as the reply body, reading the file straight into the
    /// pipe's buffers (one copy, from the page cache). A read that fails after the header was sent
    /// leaves half a frame, so the caller must abort the connection (<see cref="HalfSentReplyException"/>).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReplyChunkAsync(FrameHeader request, ChunkReader chunk)
    {
        CheckSize(request, chunk.Length);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            ThrowIfUnusable();
            WriteHeader(request, chunk.Length);
            try
            {
                int sent = 0;
                // Bounded: each round sends at least one byte, or throws, or stops because the peer is gone.
                while (sent < chunk.Length)
                {
                    int want = Math.Min(sliceBytes, chunk.Length - sent);
                    var memory = output.GetMemory(want);
                    if (memory.Length > want) memory = memory[..want];
                    chunk.ReadExactly(memory.Span, sent);
                    output.Advance(memory.Length);
                    sent += memory.Length;
                    if ((await output.FlushAsync().ConfigureAwait(false)).IsCompleted) break;
                }
                if (chunk.Length == 0) await output.FlushAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever failed after the header (the read, the pipe), the stream now holds half a frame.
                _broken = true;
                throw new HalfSentReplyException(e);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void WriteHeader(FrameHeader request, int bodyLength)
    {
        new FrameHeader(bodyLength, request.Type, FrameFlags.Response, request.RequestId).Write(output.GetSpan(FrameHeader.Size));
        output.Advance(FrameHeader.Size);
    }

    private void CheckSize(FrameHeader request, int bodyLength)
    {
        if (bodyLength > maxBodyBytes)
        {
            // The peer would take an oversized frame as a broken stream and drop the whole connection.
            throw new GridException(GridErrorCode.FrameTooLarge,
                $"The {request.Type} reply of {bodyLength} bytes exceeds the frame limit of {maxBodyBytes} bytes.");
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_broken) throw new IOException("The connection is being closed: a reply failed halfway.");
    }

    public void Dispose()
    {
        // A background reply may outlive the handler's bounded wait for it (a replica that times out):
        // then the lock is held, the buffer is left to the collector, and later replies are refused.
        _disposed = true;
        if (!_writeLock.Wait(0)) return;
        try
        {
            _frame.Dispose();
        }
        finally
        {
            _writeLock.Release();
        }
    }
}

/// <summary>A reply failed after its header was written (a chunk read, the pipe): the connection carries half a frame and must be aborted.</summary>
internal sealed class HalfSentReplyException(Exception inner) : Exception("A reply failed after its header was sent: " + inner.Message, inner);
