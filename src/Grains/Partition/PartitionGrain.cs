using System.Buffers;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Partition;

/// <summary>
/// The grain of one partition epoch, activated on the silo its slot is on. It merges the batches
/// every map pushes into one file on its disk, commits it at stage end and serves its chunks.
/// Appends are turn-based (one at a time, under the file writer's lock), as Orleans runs a
/// non-reentrant grain.
/// </summary>
public sealed class PartitionGrain(PartitionKey key, PartitionRole role, SiloEndpoint? peer, StorageDirectory disk, PartitionFileWriter file, TimeProvider time)
{
    private long _pushedBatches;
    private long _pushedBytes;

    public PartitionKey Key { get; } = key;

    /// <summary>Primary grains take pushes from clients and forward them to the replica; replicas take forwarded batches only.</summary>
    public PartitionRole Role { get; } = role;

    /// <summary>The other copy's silo: the replica for a primary, the primary for a replica; null when unreplicated.</summary>
    public SiloEndpoint? Peer { get; } = peer;

    public StorageDirectory Disk { get; } = disk;

    public PartitionFileWriter File { get; } = file;

    public DateTimeOffset ActivatedAt { get; } = time.GetUtcNow();

    public long PushedBatches => Interlocked.Read(ref _pushedBatches);

    public long PushedBytes => Interlocked.Read(ref _pushedBytes);

    /// <summary>Appends one pushed batch. Throws <see cref="GridException"/> for a malformed, corrupt or late batch.</summary>
    public void Append(in ReadOnlySequence<byte> batch)
    {
        if (batch.Length < BatchHeader.Size)
            throw new GridException(ErrorCode.MalformedFrame, $"Push to {Key} holds a batch shorter than its header.");
        Span<byte> raw = stackalloc byte[BatchHeader.Size];
        batch.Slice(0, BatchHeader.Size).CopyTo(raw);
        if (!BatchHeader.TryRead(raw, out var header))
            throw new GridException(ErrorCode.MalformedFrame, $"Push to {Key} holds a batch with an invalid header.");
        if (header.TotalLength != batch.Length)
            throw new GridException(ErrorCode.MalformedFrame, $"Push to {Key}: batch length {batch.Length} does not match its header ({header.TotalLength}).");
        try
        {
            File.Append(batch, header);
        }
        catch (GridException e) when (e.Code == ErrorCode.StorageFailure)
        {
            Disk.MarkFailed();
            throw;
        }
        catch (GridException e) when (e.Code == ErrorCode.PartitionCommitted)
        {
            // Commit happens only when every map has ended: a late push comes from a losing attempt.
            throw new GridException(ErrorCode.MapEnded, $"Partition {Key} is committed: every map has ended, so this attempt's output is not needed.");
        }
        Interlocked.Increment(ref _pushedBatches);
        Interlocked.Add(ref _pushedBytes, header.PayloadLength);
    }

    public async Task<CommittedPartition> CommitAsync(bool fsync)
    {
        try
        {
            return new CommittedPartition(Key.PartitionId, Key.Epoch, await File.CommitAsync(fsync).ConfigureAwait(false));
        }
        catch (GridException e) when (e.Code == ErrorCode.StorageFailure)
        {
            Disk.MarkFailed();
            throw;
        }
    }
}
