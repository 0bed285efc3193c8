using System.IO.Pipelines;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Writes reply frames to one connection. Replies come from the read loop and from handlers running
/// in the background, so writes are serialized; each reply is flushed as a whole.
/// </summary>
internal sealed class ConnectionResponder(PipeWriter output, int maxBodyBytes)
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public Task ReplyAsync<T>(in FrameHeader request, T body) where T : IWireMessage<T>
    {
        var frame = new PooledBufferWriter(FrameHeader.Size + 256);
        try
        {
            FrameWriter.Write(frame, request.Type, FrameFlags.Response, request.RequestId, body, maxBodyBytes);
        }
        catch
        {
            frame.Dispose();
            throw;
        }
        return SendAsync(frame);
    }

    public Task ReplyErrorAsync(in FrameHeader request, GridErrorCode code, string message)
    {
        var frame = new PooledBufferWriter(FrameHeader.Size + 256);
        FrameWriter.WriteError(frame, request.Type, request.RequestId, code, message);
        return SendAsync(frame);
    }

    /// <summary>Writes a reply whose body is already in memory (a chunk), straight into the pipe.</summary>
    public async Task ReplyRawAsync(FrameHeader request, ReadOnlyMemory<byte> body)
    {
        if (body.Length > maxBodyBytes)
        {
            // The peer would take an oversized frame as a broken stream and drop the whole connection.
            throw new GridException(GridErrorCode.FrameTooLarge,
                $"The {request.Type} reply of {body.Length} bytes exceeds the frame limit of {maxBodyBytes} bytes.");
        }
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            new FrameHeader(body.Length, request.Type, FrameFlags.Response, request.RequestId).Write(output.GetSpan(FrameHeader.Size));
            output.Advance(FrameHeader.Size);
            await output.WriteAsync(body).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task SendAsync(PooledBufferWriter frame)
    {
        try
        {
            await _writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await output.WriteAsync(frame.WrittenMemory).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            frame.Dispose();
        }
    }
}
