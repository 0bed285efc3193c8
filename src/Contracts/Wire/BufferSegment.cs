using System.Buffers;

namespace Orleans.Shuffle.Wire;

/// <summary>
/// Links memory blocks into one <see cref="ReadOnlySequence{T}"/>, so bytes held in several pooled
/// arrays (a writer's merged push, a large frame gathered in pieces) are read as one, without first
/// copying them together.
/// </summary>
public sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    public BufferSegment(ReadOnlyMemory<byte> memory, long runningIndex = 0)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>
    /// Points a kept segment at other memory, linked after <paramref name="previous"/> (null: the
    /// first segment), so a sequence rebuilt for every push allocates no segments.
    /// </summary>
    public void Reset(ReadOnlyMemory<byte> memory, BufferSegment? previous)
    {
        Memory = memory;
        Next = null;
        RunningIndex = previous is null ? 0 : previous.RunningIndex + previous.Memory.Length;
        if (previous is not null) previous.Next = this;
    }

    /// <summary>Links <paramref name="memory"/> after this segment and returns its segment.</summary>
    public BufferSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new BufferSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }
}
