using System.Diagnostics;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Placement;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Sends control requests to the silo hosting the application's ShuffleGrain, chosen with the same
/// <see cref="HashBasedPlacement"/> the silos use, so a request normally needs no forwarding hop.
/// A silo that is gone or leaving triggers a cluster-view refresh and another try, for up to
/// <c>failoverTimeout</c> (at least <see cref="RetryPolicy.ControlAttempts"/> tries): when the grain's
/// silo dies, requests fail until membership declares it dead and the grain is activated on another
/// silo from its persisted state, which takes seconds. A wrong guess costs nothing but a hop,
/// because any silo forwards a misrouted request.
/// </summary>
internal sealed class ShuffleGrainRouter(ConnectionPool pool, ClusterViewProvider views, TimeSpan failoverTimeout)
{
    /// <summary>Longest wait between two tries while the grain fails over.</summary>
    private static readonly TimeSpan MaxFailoverBackoff = TimeSpan.FromSeconds(1);

    public async Task<TReply> SendAsync<TRequest, TReply>(string appId, MessageType type, TRequest request, CancellationToken cancellationToken)
        where TRequest : IWireMessage<TRequest>
        where TReply : IWireMessage<TReply>
    {
        long started = Stopwatch.GetTimestamp();
        GatewayEndpoint? failed = null;
        // Bounded: every failed try waits at least FirstBackoff, and tries stop after failoverTimeout.
        for (int attempt = 1; ; attempt++)
        {
            var target = PickTarget(appId, failed);
            try
            {
                var connection = await pool.GetAsync(target.Host, target.Port, cancellationToken).ConfigureAwait(false);
                using var reply = await connection.SendAsync(type, request, cancellationToken).ConfigureAwait(false);
                return reply.Read<TReply>();
            }
            catch (GridException e) when (RetryPolicy.IsReroutable(e.Code) && MayRetry(attempt, started))
            {
                failed = target;
                var remaining = failoverTimeout - Stopwatch.GetElapsedTime(started);
                var delay = RetryPolicy.Backoff(attempt - 1, RetryPolicy.FirstBackoff, MaxFailoverBackoff);
                if (attempt >= RetryPolicy.ControlAttempts && remaining < delay) delay = remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                await TryRefreshAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private bool MayRetry(int attempt, long started) =>
        attempt < RetryPolicy.ControlAttempts || Stopwatch.GetElapsedTime(started) < failoverTimeout;

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
