using System.Buffers;
using System.Collections.Concurrent;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Sends a primary's batches to its replicas and waits until each replica holds them in memory:
/// only then does the primary acknowledge the client (Celeborn's replicate-then-ack). A replica that
/// fails fails the push with ReplicationFailed, and the client revives the partitions to a new epoch.
/// <para>
/// A replica silo that timed out or could not be reached is not tried again for
/// <see cref="FailedPeerQuarantine"/>: every push for it fails at once with ReplicationFailed. Without
/// that, a hung replica holds each forward for the whole replica timeout, the primary's pushes queue
/// behind them, and the primary looks hung to its writers too, which then exclude a healthy silo.
/// </para>
/// </summary>
public sealed class ReplicaForwarder(SiloConnectionPool connections, TimeProvider time)
{
    /// <summary>How long a replica silo that timed out or could not be reached gets no forwards.</summary>
    public static readonly TimeSpan FailedPeerQuarantine = TimeSpan.FromSeconds(10);

    // Replica silo identity -> the timestamp until which it gets no forwards.
    private readonly ConcurrentDictionary<string, long> _failedPeers = new(StringComparer.Ordinal);

    public async Task ForwardAsync(IReadOnlyList<ReplicaPush> pushes)
    {
        if (pushes.Count == 0) return;
        try
        {
            // Most pushes have one replica: no array of tasks for it.
            if (pushes.Count == 1) await SendAsync(pushes[0]).ConfigureAwait(false);
            else await Task.WhenAll(pushes.Select(SendAsync)).ConfigureAwait(false);
        }
        finally
        {
            foreach (var push in pushes) push.Dispose();
        }
    }

    private async Task SendAsync(ReplicaPush push)
    {
        if (_failedPeers.TryGetValue(push.Peer.Identity, out long until))
        {
            if (time.GetTimestamp() < until)
                throw new GridException(GridErrorCode.ReplicationFailed,
                    $"Replica silo {push.Peer.Endpoint} ({push.Peer.Identity}) failed moments ago (timed out or unreachable); not tried again for {FailedPeerQuarantine.TotalSeconds:0} s.");
            _failedPeers.TryRemove(KeyValuePair.Create(push.Peer.Identity, until));
        }
        try
        {
            // The entries go to the socket from the push's own buffer: one copy on this silo, out of the client's frame.
            using var reply = await connections.SendAsync(push.Peer.Host, push.Peer.Port, MessageType.ReplicateData, push.Head,
                new ReadOnlySequence<byte>(push.Entries.WrittenMemory), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever went wrong (an error reply, a refused or broken connection, a timeout), the writer can revive.
            string why = e is GridException grid ? $"{grid.Code}: {grid.Message}" : $"{e.GetType().Name}: {e.Message}";
            if (e is GridException { Code: GridErrorCode.Timeout or GridErrorCode.ConnectionLost or GridErrorCode.SiloUnavailable })
                _failedPeers[push.Peer.Identity] = time.GetTimestamp() + (long)(FailedPeerQuarantine.TotalSeconds * time.TimestampFrequency);
            throw new GridException(GridErrorCode.ReplicationFailed, $"Replica silo {push.Peer.Endpoint} ({push.Peer.Identity}) did not take {push.Count} batches: {why}", e);
        }
    }
}
