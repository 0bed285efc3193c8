using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Infrastructure;

public static class Sequences
{
    /// <summary>A sequence whose segments end at the given cut points (each a copy, so no two segments share an array).</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> data, params int[] cuts)
    {
        int length = data.Length;
        var bounds = new List<int> { 0 };
        bounds.AddRange(cuts.Where(c => c > 0 && c < length).Distinct().Order());
        bounds.Add(data.Length);
        BufferSegment? first = null, last = null;
        for (int i = 0; i + 1 < bounds.Count; i++)
        {
            var piece = data[bounds[i]..bounds[i + 1]].ToArray();
            if (first is null) first = last = new BufferSegment(piece);
            else last = last!.Append(piece);
        }
        if (first is null) return ReadOnlySequence<byte>.Empty;
        return new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    /// <summary>One byte per segment: the worst case for a parser.</summary>
    public static ReadOnlySequence<byte> Bytewise(ReadOnlySpan<byte> data) =>
        data.Length == 0 ? ReadOnlySequence<byte>.Empty : Split(data, Enumerable.Range(1, data.Length - 1).ToArray());
}
