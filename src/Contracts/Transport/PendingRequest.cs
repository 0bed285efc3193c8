using System.Buffers;
using System.Threading.Tasks.Sources;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Transport;

/// <summary>
/// A request of a <see cref="GridConnection"/> waiting for its reply, as the connection's pending
/// table and deadline sweep see it, whatever the reply's type.
/// <para>
/// Ownership: whoever removes the request from the connection's pending table (the read loop with
/// its reply, the deadline sweep, a cancellation, the close) completes it, exactly once; a reply
/// that comes later finds no entry (request ids are never reused) and is dropped. The one caller
/// that awaits it then takes the result, and only that returns the object to its pool.
/// </para>
/// </summary>
internal abstract class PendingRequest
{
    /// <summary>The request id on the wire; set when rented, fixed until the object is back in its pool.</summary>
    public ulong Id { get; protected set; }

    public MessageType Type { get; protected set; }

    /// <summary>
    /// Timestamp (<see cref="TimeProvider.GetTimestamp"/>) after which the sweep fails the request with
    /// Timeout; <see cref="long.MaxValue"/> until the frame is written. Read by the sweep under the
    /// connection's pending lock.
    /// </summary>
    public long Deadline;

    /// <summary>Completes the request with the reply body (which is only valid during this call). Called once, by whoever removed the request.</summary>
    public abstract void Complete(ReadOnlySequence<byte> body);

    /// <summary>Fails the request. Called once, by whoever removed the request.</summary>
    public abstract void Fail(Exception error);
}

/// <summary>A pending request whose reply is read as <typeparamref name="TReply"/>; awaited as a <see cref="ValueTask{TResult}"/> over this object.</summary>
internal sealed class PendingRequest<TReply> : PendingRequest, IValueTaskSource<TReply>
{
    // Enough for every request in flight on a busy client; a burst beyond it is left to the collector.
    private const int MaxPooled = 256;
    private static readonly Stack<PendingRequest<TReply>> Pool = new();
    private static readonly Lock PoolLock = new();

    private static readonly Action<object?, CancellationToken> OnCancelled = static (state, token) =>
    {
        var request = (PendingRequest<TReply>)state!;
        request._connection!.CancelPending(request, token);
    };

    // Continuations never run inline on the read loop, the sweep or a canceller.
    private ManualResetValueTaskSourceCore<TReply> _core = new() { RunContinuationsAsynchronously = true };
    private Func<ReadOnlySequence<byte>, TReply> _read = null!;
    private GridConnection? _connection;
    private CancellationTokenRegistration _cancellation;
    private int _completed;

    private PendingRequest()
    {
    }

    public static PendingRequest<TReply> Rent(GridConnection connection, ulong id, MessageType type, Func<ReadOnlySequence<byte>, TReply> read)
    {
        PendingRequest<TReply>? request;
        lock (PoolLock) Pool.TryPop(out request);
        request ??= new PendingRequest<TReply>();
        request._connection = connection;
        request._read = read;
        request.Id = id;
        request.Type = type;
        request.Deadline = long.MaxValue;
        return request;
    }

    public ValueTask<TReply> Task => new(this, _core.Version);

    /// <summary>
    /// Cancels the wait for the reply when <paramref name="cancellationToken"/> fires (at once if it
    /// has). The registration is disposed before the object goes back to its pool, so a late
    /// callback never reaches the object's next request.
    /// </summary>
    public void CancelWith(CancellationToken cancellationToken) =>
        _cancellation = cancellationToken.UnsafeRegister(OnCancelled, this);

    public override void Complete(ReadOnlySequence<byte> body)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return;
        TReply reply;
        try
        {
            reply = _read(body);
        }
        catch (Exception e)
        {
            _core.SetException(e);
            return;
        }
        _core.SetResult(reply);
    }

    /// <summary>Completes the request with a reply made by the caller; false (the reply is not taken) if it was already completed.</summary>
    public bool CompleteWith(TReply reply)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _core.SetResult(reply);
        return true;
    }

    public override void Fail(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return;
        _core.SetException(error);
    }

    /// <summary>Back to the pool without having been completed: the frame was never sent and nobody else saw the request.</summary>
    public void ReturnUnsent() => Return();

    public TReply GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // The only consumer has its result: nobody refers to this request any more.
            Return();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void Return()
    {
        // Waits for a cancellation callback that is running; none runs afterwards.
        _cancellation.Dispose();
        _cancellation = default;
        _connection = null;
        _read = null!;
        _completed = 0;
        _core.Reset();
        lock (PoolLock)
        {
            if (Pool.Count < MaxPooled) Pool.Push(this);
        }
    }
}
