using System.Buffers.Binary;
using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Client;

/// <summary>
/// A sealed batch as one complete PushData entry, in a pooled array: entry header (partition,
/// epoch, batch length), batch header, payload. It is pushed from this array and retried from it,
/// so a retry carries the same batch id. Only the entry header's epoch changes, when the partition
/// is revived: the batch itself (header, checksum, payload) does not contain the epoch.
/// </summary>
internal readonly record struct SealedBatch(byte[] Buffer, int Length)
{
    public ReadOnlyMemory<byte> Entry => Buffer.AsMemory(0, Length);

    public int PartitionId => BinaryPrimitives.ReadInt32LittleEndian(Buffer);

    public int Epoch => BinaryPrimitives.ReadInt32LittleEndian(Buffer.AsSpan(4));

    public int BatchId => BinaryPrimitives.ReadInt32LittleEndian(Buffer.AsSpan(PushData.EntryHeaderBytes + 8));

    /// <summary>
    /// Points the entry at another epoch of its partition. Only while no push of this batch is in
    /// flight: the transport serializes a push before it completes, so a failed push no longer reads it.
    /// </summary>
    public void SetEpoch(int epoch) => BinaryPrimitives.WriteInt32LittleEndian(Buffer.AsSpan(4), epoch);
}
