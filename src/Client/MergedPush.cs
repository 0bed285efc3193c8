using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Sealed batches bound for one silo, sent as one PushData. It owns their pooled arrays and
/// returns them to the writer's recycler when disposed, after the push succeeded or failed for good.
/// </summary>
internal sealed class MergedPush(BufferRecycler recycler) : IDisposable
{
    private readonly List<SealedBatch> _batches = new(4);
    private int _disposed;

    /// <summary>Bytes of all entries, headers included.</summary>
    public int Bytes { get; private set; }

    public int Count => _batches.Count;

    public IReadOnlyList<SealedBatch> Batches => _batches;

    public void Add(SealedBatch batch)
    {
        _batches.Add(batch);
        Bytes += batch.Length;
    }

    /// <summary>The entries as one sequence over the batches' own arrays (no copy).</summary>
    public ReadOnlySequence<byte> Entries()
    {
        if (_batches.Count == 0) return ReadOnlySequence<byte>.Empty;
        if (_batches.Count == 1) return new ReadOnlySequence<byte>(_batches[0].Entry);
        var first = new BufferSegment(_batches[0].Entry, 0);
        var last = first;
        for (int i = 1; i < _batches.Count; i++) last = last.Append(_batches[i].Entry);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public PushDataBody ToBody(string appId, int shuffleId) => new(appId, shuffleId, _batches.Count, Entries());

    /// <summary>The batches were added to other pushes, which own their buffers now: forget them without returning them.</summary>
    public void Forget()
    {
        _batches.Clear();
        Bytes = 0;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var batch in _batches) recycler.Return(batch.Buffer);
        _batches.Clear();
    }
}
