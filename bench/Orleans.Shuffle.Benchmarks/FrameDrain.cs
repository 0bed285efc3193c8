using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>Reads one reply frame off a pipe as a peer would, consuming its bytes as they arrive; an error reply throws.</summary>
internal static class FrameDrain
{
    /// <summary>Consumes one whole frame; returns its body length.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<int> DrainFrameAsync(PipeReader reader)
    {
        int bodyLength = -1;
        long remaining = 0;
        // Bounded: each round consumes input or ends with the pipe.
        while (true)
        {
            var result = await reader.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (bodyLength < 0)
            {
                if (buffer.Length < FrameHeader.Size)
                {
                    if (result.IsCompleted) throw new IOException("The silo closed the connection.");
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }
                bodyLength = ParseHeader(buffer);
                buffer = buffer.Slice(FrameHeader.Size);
                remaining = bodyLength;
            }
            long take = Math.Min(remaining, buffer.Length);
            remaining -= take;
            reader.AdvanceTo(buffer.GetPosition(take));
            if (remaining == 0) return bodyLength;
            if (result.IsCompleted) throw new IOException("The silo closed the connection inside a frame.");
        }
    }

    private static int ParseHeader(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> raw = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(raw);
        if ((raw[6] & (byte)FrameFlags.Error) != 0) throw new InvalidOperationException("The silo answered with an error.");
        return BinaryPrimitives.ReadInt32LittleEndian(raw);
    }
}
