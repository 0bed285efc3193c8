using System.Buffers;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>
/// One copy of a partition epoch as this silo holds it: its role, the replica a primary forwards
/// to, its disk and its file. The PartitionGrain activation creates it (Reserve) and ends it
/// (Destroy); the data endpoint appends to it and reads from it directly, so bytes never pass
/// through a grain call.
/// </summary>
public sealed class HostedPartition(PartitionKey key, PartitionRole role, SiloEndpoint? replica, StorageDirectory disk, PartitionFileWriter file)
{
    private long _pushedBatches;
    private long _pushedBytes;

    // Bytes this copy counted against its application's usage, given back when it is deleted.
    private long _countedBytes;
    private int _usageReleased;

    public PartitionKey Key { get; } = key;

    /// <summary>Primaries take pushes from clients and forward them to the replica; replicas take forwarded batches only.</summary>
    public PartitionRole Role { get; } = role;

    /// <summary>For a primary: the replica's silo, which gets every batch before the client's push is acknowledged. Null when unreplicated or a replica.</summary>
    public SiloEndpoint? Replica { get; } = replica;

    public StorageDirectory Disk { get; } = disk;

    public PartitionFileWriter File { get; } = file;

    /// <summary>
    /// The data-plane key of the application that reserved this copy (null with authentication off):
    /// a connection reads or writes the copy only with a proof of this very key, so an application id
    /// registered again by someone else never reaches the copies of its former owner.
    /// </summary>
    public byte[]? ApplicationKey { get; init; }

    /// <summary>The bytes of this copy's application on this silo, against its quota; null when not counted.</summary>
    public ApplicationUsage? Usage { get; init; }

    public long PushedBatches => Interlocked.Read(ref _pushedBatches);

    public long PushedBytes => Interlocked.Read(ref _pushedBytes);

    /// <summary>Appends one pushed batch. Throws <see cref="GridException"/> for a malformed, corrupt or late batch.</summary>
    public void Append(in ReadOnlySequence<byte> batch)
    {
        if (batch.Length < BatchHeader.Size)
            throw new GridException(GridErrorCode.MalformedFrame, $"Push to {Key} holds a batch shorter than its header.");
        Span<byte> raw = stackalloc byte[BatchHeader.Size];
        batch.Slice(0, BatchHeader.Size).CopyTo(raw);
        if (!BatchHeader.TryRead(raw, out var header))
            throw new GridException(GridErrorCode.MalformedFrame, $"Push to {Key} holds a batch with an invalid header.");
        if (header.TotalLength != batch.Length)
            throw new GridException(GridErrorCode.MalformedFrame, $"Push to {Key}: batch length {batch.Length} does not match its header ({header.TotalLength}).");
        Usage?.EnsureRoomFor(batch.Length);
        // A StorageFailure passes through: its disk was told where the I/O error happened, once, not
        // again for every later push that finds the copy failed.
        try
        {
            File.Append(batch, header);
        }
        catch (GridException e) when (e.Code == GridErrorCode.PartitionCommitted)
        {
            // Commit happens only when every map has ended: a late push comes from a losing attempt.
            throw new GridException(GridErrorCode.MapEnded, $"Partition {Key} is committed: every map has ended, so this attempt's output is not needed.");
        }
        Interlocked.Increment(ref _pushedBatches);
        Interlocked.Add(ref _pushedBytes, header.PayloadLength);
        if (Usage is { } usage)
        {
            usage.Add(batch.Length);
            Interlocked.Add(ref _countedBytes, batch.Length);
            // Deleted while this push was handled: give these bytes back too.
            if (Volatile.Read(ref _usageReleased) != 0) usage.Add(-Interlocked.Exchange(ref _countedBytes, 0));
        }
    }

    /// <summary>The copy is deleted: what it counted against its application's usage goes back.</summary>
    internal void ReleaseUsage()
    {
        Volatile.Write(ref _usageReleased, 1);
        Usage?.Add(-Interlocked.Exchange(ref _countedBytes, 0));
    }

    /// <summary>Flushes and closes the copy's file; StorageFailure when it failed (its disk was told when the I/O error happened).</summary>
    public Task<CommittedFile> CommitAsync(bool fsync) => File.CommitAsync(fsync);
}
