using Microsoft.Extensions.Options;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// What the data endpoint holds in memory for its connections, beside the pushed data the storage
/// budget counts: each connection's receive pipe (at most DataEndpoint:ReceiveBufferBytes, over at
/// most DataEndpoint:MaxConnections connections), the frames above that pipe (at most
/// DataEndpoint:MaxLargeFrameBytes together, <see cref="LargeFrames"/>), and the socket blocks kept
/// for reuse. When connections close, it gives memory back: kept blocks beyond what the open
/// connections can use are dropped, and once enough was dropped (trimmed blocks and large frames'
/// pieces) a compacting collection returns the pages to the OS, so a burst of connections does not
/// leave the silo at its peak.
/// </summary>
public sealed class DataPlaneMemory : IDisposable
{
    /// <summary>A collection is worth its pause only when at least this much was dropped since the last.</summary>
    internal const long CollectMinBytes = 16L << 20;

    /// <summary>Connections often close in bursts: one release a little after the first close covers the burst.</summary>
    internal static readonly TimeSpan ReleaseDelay = TimeSpan.FromSeconds(1);

    /// <summary>While connections remain open, collections are at least this far apart.</summary>
    internal static readonly TimeSpan MinCollectInterval = TimeSpan.FromMinutes(1);

    private readonly DataEndpointOptions _options;
    private readonly ITimer _release;
    private int _open;
    private int _releaseScheduled;
    private long _largeFrameBytesDropped;
    private long _droppedSinceCollect;
    private long _lastCollect;
    private long _collections;

    public DataPlaneMemory(IOptions<DataEndpointOptions> options, TimeProvider time)
    {
        _options = options.Value;
        Time = time;
        LargeFrames = new LargeFrameBudget(_options.MaxLargeFrameBytes);
        _release = time.CreateTimer(static state => ((DataPlaneMemory)state!).Release(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    internal LargeFrameBudget LargeFrames { get; }

    /// <summary>
    /// The clock the connections' deadlines run on: the host's, not the grid clock (tests fake that one
    /// to age heartbeats, and connections must not expire with it), as Kestrel keeps its own.
    /// </summary>
    internal TimeProvider Time { get; }

    /// <summary>The socket blocks' pool; set by the endpoint when it starts.</summary>
    internal DataBlockPool? Blocks { get; set; }

    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Compacting collections made after connections closed.</summary>
    public long Collections => Interlocked.Read(ref _collections);

    internal void ConnectionOpened() => Interlocked.Increment(ref _open);

    /// <summary>Called as a connection's handler ends; its pipe's blocks return to the pool just after.</summary>
    internal void ConnectionClosed()
    {
        Interlocked.Decrement(ref _open);
        if (Interlocked.Exchange(ref _releaseScheduled, 1) == 0) _release.Change(ReleaseDelay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A large frame's pieces were let go.</summary>
    internal void LargeFrameDropped(long bytes) => Interlocked.Add(ref _largeFrameBytesDropped, bytes);

    private void Release()
    {
        Volatile.Write(ref _releaseScheduled, 0);
        long trimmed = 0;
        if (Blocks is { } blocks) trimmed = blocks.TrimKept(Math.Min(blocks.MaxKeptBytes, (long)OpenConnections * _options.ReceiveBufferBytes));
        long dropped = Interlocked.Add(ref _droppedSinceCollect, trimmed + Interlocked.Exchange(ref _largeFrameBytesDropped, 0));
        // A full compacting collection pauses the whole silo: only when it gives back enough, and then
        // when no connection is left to serve or at most once a minute, never once per reconnect.
        if (dropped < CollectMinBytes) return;
        long now = Time.GetTimestamp();
        if (OpenConnections > 0 && _lastCollect != 0 && Time.GetElapsedTime(_lastCollect, now) < MinCollectInterval) return;
        _lastCollect = now;
        Interlocked.Exchange(ref _droppedSinceCollect, 0);
        Interlocked.Increment(ref _collections);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    public void Dispose() => _release.Dispose();
}
