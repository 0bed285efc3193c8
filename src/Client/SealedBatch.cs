namespace Orleans.Shuffle.Client;

/// <summary>
/// A sealed batch as one complete PushData entry, in a pooled array: entry header (partition,
/// epoch, batch length), batch header, payload. It is pushed from this array and retried from it
/// unchanged, so a retry carries the same batch id.
/// </summary>
internal readonly record struct SealedBatch(byte[] Buffer, int Length)
{
    public ReadOnlyMemory<byte> Entry => Buffer.AsMemory(0, Length);
}
