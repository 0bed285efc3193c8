using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Runtime;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// Checks every disk of the silo's catalog each <see cref="StorageOptions.DiskCheckPeriod"/>
/// (<see cref="StorageDirectory.CheckWithinAsync"/>) and logs each disk that goes out of or back into service.
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
                // All disks at once, each bounded: one hung device must not hold up the checks of the others.
                var disks = catalog.Disks;
                var before = disks.Select(d => d.Problem ?? known[d]).ToList(); // a disk can also fail between checks (a write error)
                var after = await Task.WhenAll(disks.Select(d => d.CheckWithinAsync(StorageDirectory.CheckLimit))).WaitAsync(stoppingToken).ConfigureAwait(false);
                for (int i = 0; i < disks.Count; i++)
                {
                    if (after[i] is not null && (before[i] is null || after[i] != before[i])) GrainLog.DiskExcluded(logger, disks[i].Root, after[i]!);
                    else if (after[i] is null && before[i] is not null) GrainLog.DiskRecovered(logger, disks[i].Root, disks[i].TotalSlots);
                    known[disks[i]] = after[i];
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
