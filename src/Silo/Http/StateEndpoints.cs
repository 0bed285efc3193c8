using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Orleans.Runtime;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Silo.DataPlane;

namespace Orleans.Shuffle.Silo.Http;

/// <summary>
/// HTTP endpoints for health checks and inspection: /healthz (200 while Orleans says this silo is
/// Active, 503 otherwise) and /state, a JSON view of this silo, the cluster as its membership sees it,
/// its disks, memory and the partition copies it hosts.
/// </summary>
public static class StateEndpoints
{
    private const int MaxPartitionsListed = 1000;

    /// <summary>Where the process's memory is: resident, and what of it the GC has committed and holds live.</summary>
    private static object ProcessMemory()
    {
        var gc = GC.GetGCMemoryInfo();
        return new
        {
            workingSetBytes = Environment.WorkingSet,
            gcCommittedBytes = gc.TotalCommittedBytes,
            gcHeapBytes = gc.HeapSizeBytes,
            gcFragmentedBytes = gc.FragmentedBytes,
        };
    }

    /// <param name="operatorToken">Silo:OperatorToken; see <see cref="OperatorAccess"/>.</param>
    public static void MapStateEndpoints(this WebApplication app, string operatorToken)
    {
        app.MapGet("/healthz", (ISiloStatusOracle oracle) => oracle.CurrentStatus == SiloStatus.Active
            ? Results.Ok(new { status = oracle.CurrentStatus.ToString() })
            : Results.Json(new { status = oracle.CurrentStatus.ToString() }, statusCode: StatusCodes.Status503ServiceUnavailable));

        app.MapGet("/state", async (ILocalSiloDetails silo, ISiloStatusOracle oracle, IClusterMembershipService membership,
            ILocalDataEndpoint data, PartitionCatalog partitions, DataPlaneMemory connections) =>
        {
            var endpoint = await data.Bound.ConfigureAwait(false);
            var snapshot = membership.CurrentSnapshot;
            return Results.Ok(new
            {
                silo = new
                {
                    name = silo.Name,
                    identity = silo.SiloAddress.ToParsableString(),
                    status = oracle.CurrentStatus.ToString(),
                    siloEndpoint = silo.SiloAddress.Endpoint.ToString(),
                    gateway = silo.GatewayAddress?.Endpoint.ToString(),
                    data = endpoint.Endpoint,
                    totalSlots = partitions.TotalSlots,
                    freeSlots = partitions.FreeSlots,
                },
                membership = new
                {
                    version = snapshot.Version.Value,
                    silos = snapshot.Members.Values.OrderBy(m => m.SiloAddress.ToParsableString(), StringComparer.Ordinal).Select(m => new
                    {
                        identity = m.SiloAddress.ToParsableString(),
                        name = m.Name,
                        status = m.Status.ToString(),
                    }),
                },
                disks = partitions.Disks.Select(d => new
                {
                    root = d.Root,
                    healthy = d.Healthy,
                    problem = d.Problem,
                    diskErrors = d.DiskErrors,
                    totalSlots = d.TotalSlots,
                    usedSlots = d.UsedSlots,
                    bytesWritten = d.Flusher.BytesWritten,
                    writes = d.Flusher.Writes,
                    failures = d.Flusher.Failures,
                    flushQueue = d.Flusher.QueueLength,
                    writeSeconds = d.Flusher.WriteTime.TotalSeconds,
                }),
                memory = new { usedBytes = partitions.Budget.UsedBytes, keptBytes = partitions.Budget.KeptBytes, limitBytes = partitions.Budget.LimitBytes, paused = partitions.Budget.IsPaused, pauses = partitions.Budget.PauseCount },
                process = ProcessMemory(),
                dataConnections = new
                {
                    open = connections.OpenConnections,
                    largeFrameBytes = connections.LargeFrames.UsedBytes,
                    largeFrameLimitBytes = connections.LargeFrames.LimitBytes,
                    largeFramesWaiting = connections.LargeFrames.Waiting,
                    largeFramesRefused = connections.LargeFrames.Refused,
                    collections = connections.Collections,
                },
                partitionCount = partitions.Count,
                partitions = partitions.All.Take(MaxPartitionsListed).Select(p => new
                {
                    appId = p.Key.AppId,
                    shuffleId = p.Key.ShuffleId,
                    partitionId = p.Key.PartitionId,
                    epoch = p.Key.Epoch,
                    role = p.Role.ToString(),
                    disk = p.Disk.Root,
                    bytes = p.File.Length,
                    batches = p.File.Batches,
                    committed = p.File.Committed is not null,
                }),
            });
        }).RequireOperator(operatorToken);
    }
}
