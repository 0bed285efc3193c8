using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Placement;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Sends control requests to the silo hosting the application's ShuffleGrain, chosen with the same
/// <see cref="HashBasedPlacement"/> the silos use, so a request normally needs no forwarding hop.
/// A silo that is gone or leaving triggers a cluster-view refresh and a bounded number of retries;
/// a wrong guess costs nothing but a hop, because any silo forwards a misrouted request.
/// </summary>
internal sealed class ShuffleGrainRouter(ConnectionPool pool, ClusterViewProvider views)
{
    public async Task<TReply> SendAsync<TRequest, TReply>(string appId, MessageType type, TRequest request, CancellationToken cancellationToken)
        where TRequest : IWireMessage<TRequest>
        where TReply : IWireMessage<TReply>
    {
        GatewayEndpoint? failed = null;
        for (int attempt = 1; attempt <= RetryPolicy.ControlAttempts; attempt++)
        {
            var target = PickTarget(appId, failed);
            try
            {
                var connection = await pool.GetAsync(target.Host, target.Port, cancellationToken).ConfigureAwait(false);
                using var reply = await connection.SendAsync(type, request, cancellationToken).ConfigureAwait(false);
                return reply.Read<TReply>();
            }
            catch (GridException e) when (attempt < RetryPolicy.ControlAttempts && RetryPolicy.IsReroutable(e.Code))
            {
                failed = target;
                await Task.Delay(RetryPolicy.Backoff(attempt - 1, RetryPolicy.FirstBackoff, RetryPolicy.MaxBackoff), cancellationToken)
                    .ConfigureAwait(false);
                await TryRefreshAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        // Unreachable: the last attempt either returns or throws out of the loop.
        throw new GridException(ErrorCode.Internal, $"{type} for application '{appId}' was not sent.");
    }

    /// <summary>
    /// The ShuffleGrain's silo by placement over the active silos. If that silo just failed and the
    /// view still names it, a gateway is used instead: it forwards to whichever silo hosts the grain now.
    /// </summary>
    private GatewayEndpoint PickTarget(string appId, GatewayEndpoint? failed)
    {
        var active = views.Current.Active.ToList();
        if (active.Count > 0)
        {
            var silo = HashBasedPlacement.Pick(appId, active, s => s.Identity);
            var placed = new GatewayEndpoint(silo.Host, silo.Port);
            if (placed != failed) return placed;
        }
        return views.PreferredGateway;
    }

    private async Task TryRefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            await views.RefreshAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (GridException)
        {
            // Keep the old view: the next attempt reports its own failure if the cluster is really unreachable.
        }
    }
}
