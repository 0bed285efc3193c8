using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Collects a writer's requests for new partition epochs (after failed pushes, or split notices)
/// for one window and sends them as one Revive, so a silo that dies under a hundred pushes costs one
/// request, not a hundred. A partition epoch asked for again while its answer is pending shares that
/// answer. The silos to exclude are those named during the window. Every answer is handed to
/// <c>apply</c> before anyone waiting for it continues, so a push that fails right after sees the
/// new route and does not ask again. Thread-safe.
/// </summary>
internal sealed class ReviveBatcher
{
    private sealed class Pending(PartitionRef partition)
    {
        public PartitionRef Partition { get; } = partition;

        public TaskCompletionSource<PartitionLocation> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Some caller asked because pushes failed (not only for a split); guarded by the batcher's lock.</summary>
        public bool ForFailure { get; set; }
    }

    private readonly Func<IReadOnlyList<PartitionRef>, IReadOnlyList<string>, CancellationToken, Task<IReadOnlyList<PartitionLocation>>> _send;
    private readonly Action<PartitionLocation, bool> _apply;
    private readonly TimeSpan _window;
    private readonly CancellationToken _abort;
    private readonly Lock _lock = new();

    // Every request not answered yet, waiting for the window or sent.
    private readonly Dictionary<PartitionRef, Pending> _unanswered = [];
    private List<Pending> _waiting = [];
    private HashSet<string> _excluded = new(StringComparer.Ordinal);
    private long _requests;

    /// <param name="send">Sends one Revive (partitions, excluded silos); the answer has one location per partition asked, in order.</param>
    /// <param name="apply">
    /// Takes each answer (and whether it was asked for a failure) before its waiters continue. Called
    /// under the batcher's lock: it must not call back into the batcher.
    /// </param>
    public ReviveBatcher(
        TimeSpan window,
        Func<IReadOnlyList<PartitionRef>, IReadOnlyList<string>, CancellationToken, Task<IReadOnlyList<PartitionLocation>>> send,
        Action<PartitionLocation, bool> apply, CancellationToken abort)
    {
        _window = window;
        _send = send;
        _apply = apply;
        _abort = abort;
    }

    /// <summary>Revive requests sent.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>
    /// The location of a newer epoch of <paramref name="partition"/>. <paramref name="excludedSilo"/>,
    /// if given, is left out by the request that carries this ask (or the next one, if the partition
    /// epoch is already on its way).
    /// </summary>
    public Task<PartitionLocation> ReviveAsync(PartitionRef partition, string? excludedSilo, bool forFailure)
    {
        lock (_lock)
        {
            if (excludedSilo is not null) _excluded.Add(excludedSilo);
            if (_unanswered.TryGetValue(partition, out var pending))
            {
                pending.ForFailure |= forFailure;
                return pending.Reply.Task;
            }
            pending = new Pending(partition) { ForFailure = forFailure };
            _unanswered.Add(partition, pending);
            _waiting.Add(pending);
            // Started on the thread pool, never inline under this lock.
            if (_waiting.Count == 1) _ = Task.Run(SendAfterWindowAsync, CancellationToken.None);
            return pending.Reply.Task;
        }
    }

    private async Task SendAfterWindowAsync()
    {
        try
        {
            if (_window > TimeSpan.Zero) await Task.Delay(_window, _abort).ConfigureAwait(false);
            else await Task.Yield();
        }
        catch (OperationCanceledException)
        {
            // Abandoned: the send below is cancelled too and fails every waiter.
        }

        List<Pending> batch;
        string[] excluded;
        lock (_lock)
        {
            batch = _waiting;
            _waiting = [];
            excluded = [.. _excluded];
            _excluded = new HashSet<string>(StringComparer.Ordinal);
        }

        // One ask per partition: two epochs of one partition (rare) are both answered by a newer
        // epoch than the higher one.
        var newest = new Dictionary<int, int>(batch.Count);
        foreach (var pending in batch)
        {
            var p = pending.Partition;
            newest[p.PartitionId] = newest.TryGetValue(p.PartitionId, out int epoch) ? Math.Max(epoch, p.Epoch) : p.Epoch;
        }
        var asked = newest.Select(kv => new PartitionRef(kv.Key, kv.Value)).ToArray();

        Exception? error = null;
        var answers = new Dictionary<int, PartitionLocation>(asked.Length);
        try
        {
            _abort.ThrowIfCancellationRequested();
            Interlocked.Increment(ref _requests);
            var locations = await _send(asked, excluded, _abort).ConfigureAwait(false);
            if (locations.Count != asked.Length)
                throw new GridException(GridErrorCode.Internal, $"Revive of {asked.Length} partitions returned {locations.Count} locations.");
            for (int i = 0; i < asked.Length; i++)
            {
                var location = locations[i];
                if (location.PartitionId != asked[i].PartitionId || location.Epoch <= asked[i].Epoch)
                {
                    throw new GridException(GridErrorCode.Internal,
                        $"Revive of partition {asked[i].PartitionId} epoch {asked[i].Epoch} returned partition {location.PartitionId} epoch {location.Epoch}.");
                }
                answers[location.PartitionId] = location;
            }
        }
        catch (Exception e)
        {
            error = e;
        }

        lock (_lock)
        {
            try
            {
                // Routes first (under the lock, so a failure flag set meanwhile is not lost), then
                // the waiters: nobody continues with, or asks again for, the old epoch.
                if (error is null)
                {
                    var failureOf = new Dictionary<int, bool>(answers.Count);
                    foreach (var pending in batch)
                    {
                        int p = pending.Partition.PartitionId;
                        failureOf[p] = failureOf.GetValueOrDefault(p) | pending.ForFailure;
                    }
                    foreach (var (p, failure) in failureOf) _apply(answers[p], failure);
                }
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                foreach (var pending in batch) _unanswered.Remove(pending.Partition);
            }
        }
        foreach (var pending in batch)
        {
            if (error is null) pending.Reply.TrySetResult(answers[pending.Partition.PartitionId]);
            else if (error is OperationCanceledException) pending.Reply.TrySetCanceled(_abort.IsCancellationRequested ? _abort : default);
            else pending.Reply.TrySetException(error);
        }
    }
}
