using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// Counts bytes of pushed data held in memory, waiting for disk. Above the limit, push readers
/// pause (they stop reading their sockets, so TCP slows the writers); they resume below 70 %.
/// This is Celeborn's pause/resume watermark, without which a slow disk grows memory unbounded.
/// <para>
/// The budget also owns the memory it counts: pieces of one size (<see cref="PieceBytes"/>, at most
/// 64 KiB, so never on the large object heap), which partition files chain into their flush
/// buffers (<see cref="PieceBuffer"/>). A returned piece is kept for the next rent while kept and
/// used pieces together stay within the limit, so the silo's buffers never exceed the limit (plus
/// the pushes in flight when it paused), whatever the data. The budget once kept power-of-two
/// buffers of several sizes on the large object heap: kept buffers of the wrong size could not be
/// counted against the limit without dropping large garbage that only full collections take back,
/// so used and kept together grew to twice the limit in long jobs (bench/README.md, "Memory").
/// </para>
/// </summary>
public sealed class MemoryBudget
{
    /// <summary>The piece size when none is given: an eighth of the default flush size.</summary>
    public const int DefaultPieceBytes = 32 * 1024;

    /// <summary>The largest piece: 64 KiB stays under the large object heap's 85,000 bytes.</summary>
    public const int MaxPieceBytes = 64 * 1024;

    private readonly long _resumeBytes;
    private readonly object _gate = new();
    private readonly Stack<byte[]> _freePieces = new();
    private readonly BoundedFreeList<PieceBuffer> _freeBuffers = new(1024);
    private long _used;
    private TaskCompletionSource? _resumed;

    public MemoryBudget(long limitBytes, int pieceBytes = DefaultPieceBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limitBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pieceBytes, MaxPieceBytes);
        LimitBytes = limitBytes;
        PieceBytes = pieceBytes;
        _resumeBytes = limitBytes * 7 / 10;
    }

    public long LimitBytes { get; }

    /// <summary>Length of every piece the budget hands out.</summary>
    public int PieceBytes { get; }

    public long UsedBytes => Interlocked.Read(ref _used);

    public bool IsPaused => UsedBytes >= LimitBytes;

    public long PauseCount { get; private set; }

    /// <summary>
    /// Called when receiving pauses: hands partly filled buffers to the disks, so that memory held by
    /// many small partitions drains too (only flushes release budget). Set by the partition catalog.
    /// </summary>
    public Action? Trim { get; set; }

    /// <summary>Bytes of pieces kept for reuse, not counted as used.</summary>
    public long KeptBytes { get { lock (_gate) return (long)_freePieces.Count * PieceBytes; } }

    public void Add(long bytes) => Interlocked.Add(ref _used, bytes);

    /// <summary>An empty chain of pieces for one flush; give it back with <see cref="PieceBuffer.Release"/>.</summary>
    internal PieceBuffer RentBuffer() => _freeBuffers.TryTake(out var buffer) ? buffer : new PieceBuffer(this);

    internal void KeepBuffer(PieceBuffer buffer) => _freeBuffers.TryKeep(buffer);

    /// <summary>A piece of <see cref="PieceBytes"/>, counted as used until <see cref="ReturnPiece"/>.</summary>
    public byte[] RentPiece()
    {
        byte[]? piece;
        lock (_gate) _freePieces.TryPop(out piece);
        piece ??= GC.AllocateUninitializedArray<byte>(PieceBytes);
        Add(PieceBytes);
        return piece;
    }

    /// <summary>
    /// Stops counting <paramref name="piece"/> and keeps it for the next <see cref="RentPiece"/> while
    /// kept and used pieces together stay within the limit; beyond that it is left to the collector
    /// (only pieces rented past the limit, while the budget paused, are).
    /// </summary>
    public void ReturnPiece(byte[] piece)
    {
        if (piece.Length != PieceBytes) throw new ArgumentException($"A piece of this budget is {PieceBytes} bytes, not {piece.Length}.", nameof(piece));
        long used = Interlocked.Add(ref _used, -PieceBytes);
        lock (_gate)
        {
            if (used + (long)(_freePieces.Count + 1) * PieceBytes <= LimitBytes) _freePieces.Push(piece);
        }
        Resume(used);
    }

    /// <summary>Lets the GC have every kept piece (the silo went idle); returns their bytes.</summary>
    public long ReleaseKeptBuffers()
    {
        lock (_gate)
        {
            long released = (long)_freePieces.Count * PieceBytes;
            _freePieces.Clear();
            _freeBuffers.Clear();
            return released;
        }
    }

    public void Release(long bytes) => Resume(Interlocked.Add(ref _used, -bytes));

    private void Resume(long used)
    {
        if (used >= _resumeBytes) return;
        TaskCompletionSource? resumed;
        lock (_gate)
        {
            resumed = _resumed;
            _resumed = null;
        }
        resumed?.TrySetResult();
    }

    /// <summary>Completes at once unless paused; then when usage falls below the resume mark.</summary>
    public ValueTask WaitUntilAcceptingAsync(CancellationToken cancellationToken)
    {
        if (!IsPaused) return ValueTask.CompletedTask;
        Task resumed;
        bool trim;
        lock (_gate)
        {
            if (UsedBytes < _resumeBytes) return ValueTask.CompletedTask;
            PauseCount++;
            trim = _resumed is null;
            _resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            resumed = _resumed.Task;
        }
        if (trim) Trim?.Invoke();
        return new ValueTask(resumed.WaitAsync(cancellationToken));
    }
}
