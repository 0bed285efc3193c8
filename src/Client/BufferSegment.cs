using System.Buffers;

namespace Orleans.Shuffle.Client;

/// <summary>Links pooled arrays into one <see cref="ReadOnlySequence{T}"/>, so a merged push is written without first copying its batches together.</summary>
internal sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    public BufferSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public BufferSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new BufferSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }
}
