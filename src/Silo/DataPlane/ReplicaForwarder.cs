using System.Buffers;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Sends a primary's batches to its replicas and waits until each replica holds them in memory:
/// only then does the primary acknowledge the client (Celeborn's replicate-then-ack). A replica that
/// fails fails the push with ReplicationFailed, and the client revives the partitions to a new epoch.
/// </summary>
public sealed class ReplicaForwarder(SiloConnectionPool connections)
{
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
            throw new GridException(GridErrorCode.ReplicationFailed, $"Replica silo {push.Peer.Endpoint} ({push.Peer.Identity}) did not take {push.Count} batches: {why}", e);
        }
    }
}
