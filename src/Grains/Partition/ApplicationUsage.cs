using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>
/// The bytes one application's copies hold on this silo, against its quota
/// (<see cref="Storage.StorageOptions.MaxApplicationBytes"/>), so one application cannot fill the
/// disks the others need. Counted as batches are appended and uncounted when a copy is deleted.
/// Shared by the application's copies on this silo; thread-safe.
/// </summary>
public sealed class ApplicationUsage(string appId, long limitBytes)
{
    private long _bytes;

    public string AppId { get; } = appId;

    public long LimitBytes { get; } = limitBytes;

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Copies of the application on this silo; changed under the catalog's lock.</summary>
    internal int Copies { get; set; }

    /// <summary>
    /// QuotaExceeded when <paramref name="bytes"/> more would take the application past its quota.
    /// Pushes handled at the same moment may pass it by a batch each: a bound on the disk, not an exact count.
    /// </summary>
    public void EnsureRoomFor(long bytes)
    {
        long held = Bytes;
        if (held + bytes > LimitBytes)
            throw new GridException(GridErrorCode.QuotaExceeded,
                $"Application {AppId} holds {held:N0} bytes on this silo and may hold {LimitBytes:N0} (Storage:MaxApplicationBytes); " +
                $"a push of {bytes:N0} more is refused. Delete finished shuffles, or ask the operator for a larger share.");
    }

    public void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);
}
