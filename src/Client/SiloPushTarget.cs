using System.Diagnostics.CodeAnalysis;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A writer's state for one silo: the merged push being filled, the full pushes waiting for a slot,
/// and the slots themselves (at most MaxPushesInFlightPerSilo pushes in flight). Only the writer's
/// thread touches the queues; push completions only release slots.
/// </summary>
internal sealed class SiloPushTarget(string host, int port, int maxInFlight, BufferRecycler recycler)
{
    private readonly Queue<MergedPush> _ready = new();
    private MergedPush? _filling;

    public string Host { get; } = host;

    public int Port { get; } = port;

    public string Endpoint => $"{Host}:{Port}";

    public int MaxInFlight { get; } = maxInFlight;

    public SemaphoreSlim Slots { get; } = new(maxInFlight, maxInFlight);

    /// <summary>Full pushes waiting for a slot. While there are any, the writer accepts no batch for this silo.</summary>
    public int ReadyCount => _ready.Count;

    /// <summary>
    /// Adds a sealed batch to the push being filled. A push is full when the next batch would take
    /// it past <paramref name="mergedPushBytes"/>, or when it reaches that size; a batch larger than
    /// that travels alone.
    /// </summary>
    public void Add(SealedBatch batch, int mergedPushBytes)
    {
        if (_filling is not null && _filling.Bytes + batch.Length > mergedPushBytes) SealFilling();
        (_filling ??= new MergedPush(recycler)).Add(batch);
        if (_filling.Bytes >= mergedPushBytes) SealFilling();
    }

    /// <summary>Moves the push being filled, if any, to the ready queue (the writer is closing).</summary>
    public void SealFilling()
    {
        if (_filling is null) return;
        _ready.Enqueue(_filling);
        _filling = null;
    }

    /// <summary>Takes a ready push if a slot is free now; the caller owns the slot and must release it.</summary>
    public bool TryTakeReady([NotNullWhen(true)] out MergedPush? push)
    {
        push = null;
        if (_ready.Count == 0 || !Slots.Wait(0)) return false;
        push = _ready.Dequeue();
        return true;
    }

    /// <summary>Waits for a slot and takes the oldest ready push; the caller owns the slot and must release it.</summary>
    public async Task<MergedPush> TakeReadyAsync(CancellationToken cancellationToken)
    {
        await Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        return _ready.Dequeue();
    }

    /// <summary>Waits until no push is in flight, by holding every slot at once, then gives them back.</summary>
    public async Task WaitForInFlightAsync(CancellationToken cancellationToken)
    {
        int held = 0;
        try
        {
            for (; held < MaxInFlight; held++) await Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (held > 0) Slots.Release(held);
        }
    }

    /// <summary>Returns the buffers of every push never sent (the writer is being abandoned).</summary>
    public void DiscardUnsent()
    {
        _filling?.Dispose();
        _filling = null;
        while (_ready.TryDequeue(out var push)) push.Dispose();
    }
}
