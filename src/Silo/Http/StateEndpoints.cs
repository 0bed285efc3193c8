using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Silo.Membership;
using Orleans.Shuffle.Silo.Runtime;

namespace Orleans.Shuffle.Silo.Http;

/// <summary>
/// HTTP endpoints for health checks and inspection: /healthz (200 when Active, 503 otherwise) and
/// /state, a JSON view of silos, slots, disks, memory, applications, shuffles and partitions.
/// </summary>
public static class StateEndpoints
{
    private const int MaxPartitionsListed = 1000;

    public static void MapStateEndpoints(this WebApplication app)
    {
        app.MapGet("/healthz", (LocalSilo local) => local.Status == SiloStatus.Active
            ? Results.Ok(new { status = local.Status.ToString() })
            : Results.Json(new { status = local.Status.ToString() }, statusCode: StatusCodes.Status503ServiceUnavailable));

        app.MapGet("/state", async (LocalSilo local, ClusterMembership membership, PartitionCatalog partitions, ShuffleGrainCatalog grains, CancellationToken cancellationToken) =>
        {
            var applications = new List<object>();
            foreach (var grain in grains.All)
            {
                applications.Add(new
                {
                    appId = grain.AppId,
                    lastActivity = grain.LastActivity,
                    shuffles = await grain.DescribeAsync(cancellationToken).ConfigureAwait(false),
                });
            }
            return Results.Ok(new
            {
                silo = local.IsBound ? local.ToInfo() : null,
                membership = new
                {
                    version = membership.Version,
                    silos = membership.Snapshot.Members.Select(m => new
                    {
                        identity = m.Entry.SiloAddress.Identity,
                        name = m.Entry.SiloName,
                        status = m.Entry.Status.ToString(),
                        endpoint = m.Entry.SiloAddress.Endpoint,
                        httpPort = m.Entry.HttpPort,
                        iAmAliveTime = m.Entry.IAmAliveTime,
                        suspectVotes = m.Entry.SuspectTimes.Count,
                    }),
                },
                disks = partitions.Disks.Select(d => new
                {
                    root = d.Root,
                    healthy = d.Healthy,
                    totalSlots = d.TotalSlots,
                    usedSlots = d.UsedSlots,
                    bytesWritten = d.Flusher.BytesWritten,
                    writes = d.Flusher.Writes,
                    failures = d.Flusher.Failures,
                    flushQueue = d.Flusher.QueueLength,
                    writeSeconds = d.Flusher.WriteTime.TotalSeconds,
                }),
                memory = new { usedBytes = partitions.Budget.UsedBytes, limitBytes = partitions.Budget.LimitBytes, paused = partitions.Budget.IsPaused, pauses = partitions.Budget.PauseCount },
                applications,
                partitionCount = partitions.Count,
                partitions = partitions.All.Take(MaxPartitionsListed).Select(p => new
                {
                    appId = p.Key.AppId,
                    shuffleId = p.Key.ShuffleId,
                    partitionId = p.Key.PartitionId,
                    epoch = p.Key.Epoch,
                    disk = p.Disk.Root,
                    bytes = p.File.Length,
                    batches = p.File.Batches,
                    committed = p.File.Committed is not null,
                }),
            });
        });
    }
}
