using System.Diagnostics;
using Orleans.Runtime;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;
using Orleans.Storage;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Calls an application's ShuffleGrain through the Orleans client. Orleans routes every call to the
/// grain's one activation and re-activates the grain elsewhere once membership declares its silo dead;
/// what it does not do is repeat a call that failed because that silo was lost on the way (the silo
/// died, the call timed out, the activation found its state written by a newer one). Every
/// ShuffleGrain call is idempotent, so such a call is repeated here, with backoff, for up to the
/// failover timeout. Everything else, the grain's own <see cref="GridException"/>s included, is thrown as it is.
/// Each try carries a fresh control token of the application's secret, when the client holds it.
/// </summary>
internal sealed class ShuffleGrainCalls(IGrainFactory grains, TimeSpan failoverTimeout, Func<string, ApplicationSecret?>? secrets = null)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    public IShuffleGrain Grain(string appId) => grains.GetGrain<IShuffleGrain>(appId);

    public async Task CallAsync(string appId, Func<IShuffleGrain, Task> call, CancellationToken cancellationToken) =>
        await CallAsync(appId, async grain =>
        {
            await call(grain).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);

    /// <param name="attemptTimeout">
    /// When set, a try that has no answer by then is given up and made again. Orleans sends each call
    /// through one of the client's gateways; a call sent through a hung silo's gateway waits Orleans'
    /// whole response timeout (30 s), while the next try most likely goes through a live gateway. For
    /// calls that are quick on a healthy grid (revive, map end).
    /// </param>
    public async Task<T> CallAsync<T>(string appId, Func<IShuffleGrain, Task<T>> call, CancellationToken cancellationToken, TimeSpan? attemptTimeout = null)
    {
        long started = Stopwatch.GetTimestamp();
        // Bounded: every failed try waits at least FirstBackoff, and tries stop after the failover timeout.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var answer = CallWithToken(appId, call);
                return attemptTimeout is { } limit
                    ? await answer.WaitAsync(limit, cancellationToken).ConfigureAwait(false)
                    : await answer.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsSiloLoss(e))
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                if (attempt >= RetryPolicy.ControlAttempts && elapsed >= failoverTimeout)
                {
                    throw new GridException(e is TimeoutException ? GridErrorCode.Timeout : GridErrorCode.SiloUnavailable,
                        $"The ShuffleGrain of application {appId} did not answer for {elapsed.TotalSeconds:0.#} s ({attempt} tries): {e.Message}", e);
                }
                await Task.Delay(RetryPolicy.Backoff(attempt - 1, RetryPolicy.FirstBackoff, MaxBackoff), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Makes the call with the application's control token in the request context, which Orleans
    /// copies into the call's message when the call is made; removed afterwards, so it rides on no
    /// other call of this flow.
    /// </summary>
    private Task<T> CallWithToken<T>(string appId, Func<IShuffleGrain, Task<T>> call)
    {
        if (secrets?.Invoke(appId) is not { } secret) return call(Grain(appId));
        RequestContext.Set(GridAuthentication.ControlTokenKey, GridAuthentication.ControlToken(secret, appId, DateTimeOffset.UtcNow));
        try
        {
            return call(Grain(appId));
        }
        finally
        {
            RequestContext.Remove(GridAuthentication.ControlTokenKey);
        }
    }

    /// <summary>The call may not have reached a live activation, or its answer was lost with a silo: it is safe to repeat.</summary>
    internal static bool IsSiloLoss(Exception e) =>
        e is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException or InconsistentStateException or GatewayTooBusyException;
}
