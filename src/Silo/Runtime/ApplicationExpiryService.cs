using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Silo.Hosting;
using Orleans.Shuffle.Silo.Logging;

namespace Orleans.Shuffle.Silo.Runtime;

/// <summary>
/// Deletes the data of applications whose driver stopped heartbeating (it crashed, or forgot to
/// unregister): the ShuffleGrain unregisters the application and is deactivated.
/// </summary>
public sealed class ApplicationExpiryService(
    ShuffleGrainCatalog grains, ShuffleGrainLocator locator, IOptions<ApplicationOptions> options, TimeProvider time, ILogger<ApplicationExpiryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ExpiryCheckPeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await SweepAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        foreach (var grain in grains.All.Where(g => g.IsDefunct || g.IsExpired(options.Value.HeartbeatTtl)).ToList())
        {
            try
            {
                if (!grain.IsDefunct)
                {
                    SiloLog.ApplicationExpired(logger, grain.AppId, grain.LastActivity);
                    await grain.UnregisterApplicationAsync("heartbeat lapsed", cancellationToken).ConfigureAwait(false);
                }
                await locator.DeactivateAsync(grain).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One application's failure must not stop the sweep, let alone the silo: the next sweep tries again.
                SiloLog.ExpiryFailed(logger, e, grain.AppId);
            }
        }
    }
}
