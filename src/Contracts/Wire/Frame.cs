using System.Buffers;

namespace Orleans.Shuffle.Wire;

/// <summary>A parsed frame. The body is a slice of the reader's buffer: valid until the reader advances.</summary>
public readonly struct Frame(FrameHeader header, ReadOnlySequence<byte> body)
{
    public FrameHeader Header { get; } = header;

    public ReadOnlySequence<byte> Body { get; } = body;
}

/// <summary>Why <see cref="FrameCodec.TryRead"/> refused input (as opposed to waiting for more).</summary>
public enum FrameError
{
    None = 0,
    Oversized,
    Malformed,
}
