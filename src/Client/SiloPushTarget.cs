using System.Diagnostics.CodeAnalysis;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A writer's state for one silo: the merged push being filled, the full pushes waiting for a slot,
/// and the slots themselves (at most MaxPushesInFlightPerSilo pushes in flight). Only the writer's
/// thread touches the queues; push completions and resends only take and release slots. One
/// target per silo incarnation: a silo restarted on the same endpoint has another identity.
/// </summary>
internal sealed class SiloPushTarget(SiloEndpoint silo, int maxInFlight, MergedPushPool pushes)
{
    private readonly Queue<MergedPush> _ready = new();
    private MergedPush? _filling;

    public SiloEndpoint Silo { get; } = silo;

    /// <summary>The silo's identity, which a Revive excludes when pushes to it fail.</summary>
    public string Identity => Silo.Identity;

    public string Host => Silo.Host;

    public int Port => Silo.Port;

    public string Endpoint => Silo.Endpoint;

    public int MaxInFlight { get; } = maxInFlight;

    private GridException? _down;

    /// <summary>
    /// Set once a push found the silo gone or leaving: later pushes to it are revived elsewhere at
    /// once instead of waiting for the same failure (a hung silo costs a request timeout per push).
    /// A restarted silo has another identity, so it gets a new target.
    /// </summary>
    public GridException? Down => Volatile.Read(ref _down);

    public void MarkDown(GridException error) => Interlocked.CompareExchange(ref _down, error, null);

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
        (_filling ??= pushes.Rent()).Add(batch);
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

    /// <summary>Returns the buffers of every push never sent (the writer is being abandoned).</summary>
    public void DiscardUnsent()
    {
        _filling?.Dispose();
        _filling = null;
        while (_ready.TryDequeue(out var push)) push.Dispose();
    }
}
