using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Runtime;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// Checks every disk of the silo's catalog each <see cref="StorageOptions.DiskCheckPeriod"/>
/// (<see cref="StorageDirectory.Check"/>) and logs each disk that goes out of or back into service.
/// Placement sees the change through the slots the silo reports.
/// </summary>
internal sealed class DiskHealthMonitor(
    PartitionCatalog catalog, IOptions<StorageOptions> options, [FromKeyedServices(GridClock.ServiceKey)] TimeProvider time, ILogger<DiskHealthMonitor> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var known = catalog.Disks.ToDictionary(d => d, d => d.Problem);
        foreach (var (disk, problem) in known)
        {
            if (problem is not null) GrainLog.DiskExcluded(logger, disk.Root, problem);
        }
        using var timer = new PeriodicTimer(options.Value.DiskCheckPeriod, time);
        try
        {
            // Ends when the silo stops.
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var disk in catalog.Disks)
                {
                    // A disk can also fail between checks (a write error), so compare with what it was just before this check.
                    string? before = disk.Problem ?? known[disk];
                    string? after = await Task.Run(disk.Check).WaitAsync(stoppingToken).ConfigureAwait(false);
                    if (after is not null && (before is null || after != before)) GrainLog.DiskExcluded(logger, disk.Root, after);
                    else if (after is null && before is not null) GrainLog.DiskRecovered(logger, disk.Root, disk.TotalSlots);
                    known[disk] = after;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
