using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Multi-segment sequences, as a receive pipe hands over bytes that arrived in several reads.</summary>
public static class Segments
{
    /// <summary><paramref name="bytes"/> as a sequence of segments of <paramref name="segmentBytes"/> (the last one shorter).</summary>
    public static ReadOnlySequence<byte> Of(byte[] bytes, int segmentBytes)
    {
        if (bytes.Length <= segmentBytes) return new ReadOnlySequence<byte>(bytes);
        var first = new BufferSegment(bytes.AsMemory(0, segmentBytes));
        var last = first;
        for (int offset = segmentBytes; offset < bytes.Length; offset += segmentBytes)
            last = last.Append(bytes.AsMemory(offset, Math.Min(segmentBytes, bytes.Length - offset)));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
