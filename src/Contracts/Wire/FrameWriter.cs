using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Wire;

/// <summary>Serializes whole frames (header and body) into a pooled buffer, ready for one socket write.</summary>
public static class FrameWriter
{
    /// <param name="trailerLength">
    /// Bytes of the body that follow what <paramref name="body"/> writes and are sent from buffers of
    /// their own (a push's batches, without another copy); counted in the frame's body length.
    /// </param>
    public static void Write<T>(PooledBufferWriter output, MessageType type, FrameFlags flags, ulong requestId, in T body, int maxBodyLength, long trailerLength = 0)
        where T : IWireMessage<T>
    {
        int start = output.WrittenCount;
        output.GetSpan(FrameHeader.Size);
        output.Advance(FrameHeader.Size);
        body.Write(new WireWriter(output));
        long bodyLength = output.WrittenCount - start - FrameHeader.Size + trailerLength;
        if (bodyLength > maxBodyLength)
        {
            throw new GridException(GridErrorCode.FrameTooLarge,
                $"A {type} body of {bodyLength} bytes exceeds the frame limit of {maxBodyLength} bytes.");
        }
        new FrameHeader((int)bodyLength, type, flags, requestId).Write(output.WrittenSpanForPatch(start, FrameHeader.Size));
    }

    public static void WriteError(PooledBufferWriter output, MessageType type, ulong requestId, GridErrorCode code, string message) =>
        Write(output, type, FrameFlags.Response | FrameFlags.Error, requestId, new ErrorReply(code, message), int.MaxValue);
}
