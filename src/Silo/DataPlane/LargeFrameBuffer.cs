using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// A frame larger than the connection's receive pipe, gathered as it arrives into pieces of
/// <see cref="PieceBytes"/>. A piece is made only when bytes arrive for it, so a peer that
/// announces a large frame and sends little holds little. The pieces are not pooled: large frames
/// are rare (the client pushes 64 KiB), and pieces kept by a pool would stay in the silo's memory
/// after the frames that needed them are gone; at 64 KiB they stay off the large object heap, and
/// <see cref="DataPlaneMemory"/> counts them towards its collection once connections close. Their bytes are counted by <see cref="LargeFrameBudget"/>.
/// </summary>
internal sealed class LargeFrameBuffer(int length) : IDisposable
{
    /// <summary>64 KiB: under the large object heap's 85,000 bytes.</summary>
    internal const int PieceBytes = 64 * 1024;

    private readonly List<byte[]> _pieces = new(Math.Min((length + PieceBytes - 1) / PieceBytes, 4096));
    private int _filled;

    public int Length { get; } = length;

    public int Remaining => Length - _filled;

    /// <summary>Copies as much of <paramref name="source"/> as the frame still needs; returns how much.</summary>
    public int Append(in ReadOnlySequence<byte> source)
    {
        int start = _filled;
        foreach (var memory in source)
        {
            var span = memory.Span;
            // Bounded: each round copies into the current piece until the span or the frame ends.
            while (span.Length > 0 && Remaining > 0)
            {
                int offset = _filled % PieceBytes;
                if (offset == 0) _pieces.Add(GC.AllocateUninitializedArray<byte>(Math.Min(PieceBytes, Remaining)));
                int n = Math.Min(span.Length, Math.Min(PieceBytes - offset, Remaining));
                span[..n].CopyTo(_pieces[^1].AsSpan(offset));
                span = span[n..];
                _filled += n;
            }
            if (Remaining == 0) break;
        }
        return _filled - start;
    }

    /// <summary>The whole frame as one sequence over the pieces; valid until disposed.</summary>
    public ReadOnlySequence<byte> ToSequence()
    {
        if (Remaining != 0) throw new InvalidOperationException($"The frame has {Remaining} bytes still to come.");
        if (_pieces.Count == 1) return new ReadOnlySequence<byte>(_pieces[0], 0, Length);
        var first = new BufferSegment(_pieces[0].AsMemory(0, PieceBytes), 0);
        var last = first;
        for (int i = 1; i < _pieces.Count; i++)
        {
            int size = Math.Min(PieceBytes, Length - i * PieceBytes);
            last = last.Append(_pieces[i].AsMemory(0, size));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public void Dispose() => _pieces.Clear();
}
