using System.Buffers;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Storage;

/// <summary>
/// The budget's own memory: pieces of one size, counted while rented, kept for reuse while kept and
/// used together stay within the limit, let go when the silo is idle.
/// </summary>
public class MemoryBudgetBufferTests
{
    private const int Piece = 4096;

    [Fact]
    public void A_returned_piece_is_the_next_one_rented_and_counts_only_while_rented()
    {
        var budget = new MemoryBudget(4 * Piece, Piece);
        var first = budget.RentPiece();
        Assert.Equal(Piece, first.Length);
        Assert.Equal(Piece, budget.UsedBytes);

        budget.ReturnPiece(first);
        Assert.Equal((0L, (long)Piece), (budget.UsedBytes, budget.KeptBytes));
        Assert.Same(first, budget.RentPiece());
        Assert.Equal(((long)Piece, 0L), (budget.UsedBytes, budget.KeptBytes));
    }

    /// <summary>
    /// Used and kept pieces together never exceed the limit: pieces rented past it (while the budget
    /// paused, pushes in flight) go to the collector when they come back, and the rest are reused.
    /// </summary>
    [Fact]
    public void Used_and_kept_pieces_together_stay_within_the_limit()
    {
        var budget = new MemoryBudget(2 * Piece, Piece);
        var rented = Enumerable.Range(0, 5).Select(_ => budget.RentPiece()).ToList();
        Assert.True(budget.IsPaused);
        foreach (var piece in rented)
        {
            budget.ReturnPiece(piece);
            Assert.InRange(budget.UsedBytes + budget.KeptBytes, 0, Math.Max(2 * Piece, budget.UsedBytes));
        }
        // The first three came back while two or more were still in use; the last two found room.
        Assert.Equal((0L, 2L * Piece), (budget.UsedBytes, budget.KeptBytes));
        Assert.Same(rented[4], budget.RentPiece());
        Assert.Same(rented[3], budget.RentPiece());
        var fresh = budget.RentPiece();
        Assert.DoesNotContain(rented, b => ReferenceEquals(b, fresh));
    }

    [Fact]
    public void A_piece_of_another_size_is_refused_and_nothing_is_released()
    {
        var budget = new MemoryBudget(4 * Piece, Piece);
        budget.RentPiece();
        Assert.Throws<ArgumentException>(() => budget.ReturnPiece(new byte[Piece * 2]));
        Assert.Equal(Piece, budget.UsedBytes);
    }

    [Fact]
    public void Pieces_larger_than_64_KiB_are_refused_since_they_would_live_on_the_large_object_heap()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryBudget(1 << 20, MemoryBudget.MaxPieceBytes + 1));
        Assert.Equal(64 * 1024, new MemoryBudget(1 << 20, MemoryBudget.MaxPieceBytes).RentPiece().Length);
    }

    [Fact]
    public void Releasing_the_kept_pieces_hands_them_to_the_GC()
    {
        var budget = new MemoryBudget(1 << 20, Piece);
        var pieces = Enumerable.Range(0, 3).Select(_ => budget.RentPiece()).ToList();
        foreach (var piece in pieces) budget.ReturnPiece(piece);
        Assert.Equal(3 * Piece, budget.ReleaseKeptBuffers());
        Assert.Equal(0, budget.KeptBytes);
        // By reference: xunit compares arrays by their contents, and fresh uninitialized arrays may match.
        var fresh = budget.RentPiece();
        Assert.DoesNotContain(pieces, b => ReferenceEquals(b, fresh));
    }

    /// <summary>A chain of pieces takes bytes that span pieces, extends the CRC over exactly those bytes, and gives its pieces back.</summary>
    [Fact]
    public void A_piece_buffer_spans_pieces_and_returns_them_all()
    {
        var budget = new MemoryBudget(1 << 20, Piece);
        var buffer = budget.RentBuffer();
        var first = TestBatches.Payload(Piece - 10, seed: 1);
        var second = TestBatches.Payload(2 * Piece + 7, seed: 2);
        uint crc = buffer.Append(new ReadOnlySequence<byte>(first), 0);
        crc = buffer.Append(new ReadOnlySequence<byte>(second), crc);
        Assert.Equal(first.Length + second.Length, buffer.Length);
        Assert.Equal(3, buffer.PieceCount);
        Assert.Equal(3L * Piece, budget.UsedBytes);
        Assert.Equal(Crc32C.Compute([.. first, .. second]), crc);

        buffer.Release();
        Assert.Equal((0L, 3L * Piece), (budget.UsedBytes, budget.KeptBytes));
        Assert.Same(buffer, budget.RentBuffer());
        Assert.Equal(0, buffer.Length);
    }
}
