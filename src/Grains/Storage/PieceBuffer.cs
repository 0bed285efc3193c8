using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Orleans.Shuffle.Batches;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// File bytes waiting for one write: a chain of the memory budget's pieces, filled front to back.
/// A batch may span pieces; the disk gets the chain in one gathered write (pwritev), so pieces
/// cost no copy. Pieces of one small size are what keeps the budget's memory within its limit
/// (see <see cref="MemoryBudget"/>); a batch larger than a flush is just a longer chain.
/// </summary>
internal sealed class PieceBuffer
{
    // pwritev takes at most IOV_MAX (1024 on Linux) buffers; a longer chain is written in groups.
    private const int MaxSegmentsPerWrite = 256;

    private readonly MemoryBudget _budget;
    private readonly List<byte[]> _pieces = [];
    private readonly List<ReadOnlyMemory<byte>> _segments = [];

    internal PieceBuffer(MemoryBudget budget) => _budget = budget;

    /// <summary>Bytes appended so far.</summary>
    public int Length { get; private set; }

    /// <summary>Pieces rented from the budget so far.</summary>
    public int PieceCount => _pieces.Count;

    /// <summary>Copies <paramref name="source"/> behind the bytes already here, renting pieces as needed; returns <paramref name="crc"/> extended over the stored bytes.</summary>
    public uint Append(in ReadOnlySequence<byte> source, uint crc)
    {
        int pieceBytes = _budget.PieceBytes;
        foreach (var segment in source)
        {
            var rest = segment.Span;
            // Bounded: each round copies at least one byte (a full last piece gets a new one first).
            while (!rest.IsEmpty)
            {
                if (Length == _pieces.Count * pieceBytes) _pieces.Add(_budget.RentPiece());
                var destination = _pieces[^1].AsSpan(Length - (_pieces.Count - 1) * pieceBytes);
                int count = Math.Min(destination.Length, rest.Length);
                rest[..count].CopyTo(destination);
                crc = Crc32C.Append(crc, destination[..count]);
                Length += count;
                rest = rest[count..];
            }
        }
        return crc;
    }

    /// <summary>Writes every byte at <paramref name="offset"/> of <paramref name="file"/>. Called on the flusher thread.</summary>
    public void WriteTo(SafeFileHandle file, long offset)
    {
        int pieceBytes = _budget.PieceBytes;
        for (int first = 0; first < _pieces.Count; first += MaxSegmentsPerWrite)
        {
            _segments.Clear();
            for (int i = first; i < Math.Min(first + MaxSegmentsPerWrite, _pieces.Count); i++)
                _segments.Add(_pieces[i].AsMemory(0, Math.Min(pieceBytes, Length - i * pieceBytes)));
            RandomAccess.Write(file, _segments, offset + (long)first * pieceBytes);
        }
        _segments.Clear();
    }

    /// <summary>Gives the pieces back to the budget and this chain to its free list; it must not be used after.</summary>
    public void Release()
    {
        foreach (var piece in _pieces) _budget.ReturnPiece(piece);
        _pieces.Clear();
        Length = 0;
        _budget.KeepBuffer(this);
    }
}
