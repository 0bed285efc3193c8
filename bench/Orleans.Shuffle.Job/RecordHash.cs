using System.Buffers.Binary;
using System.Numerics;

namespace Orleans.Shuffle.Job;

/// <summary>
/// A small, fast 64-bit hash of a byte span, used to partition keys and to checksum records.
/// System.IO.Hashing is not available to this project, so this is a self-contained
/// multiply-rotate mix over 8-byte lanes with a strong finalizer. It only needs to spread bits
/// well and be identical in every process; it is not meant to be cryptographic.
/// </summary>
public static class RecordHash
{
    private const ulong Prime1 = 0x9E3779B185EBCA87UL;
    private const ulong Prime2 = 0xC2B2AE3D27D4EB4FUL;
    private const ulong Prime3 = 0x165667B19E3779F9UL;

    public static ulong Hash64(ReadOnlySpan<byte> data, ulong seed = 0)
    {
        // Mixing the length in first keeps "ab" and "ab\0" apart even though the tail is zero-padded;
        // the constant keeps the empty input from hashing to 0, which a checksum sum would not notice.
        ulong hash = seed ^ Prime3 ^ ((ulong)data.Length * Prime1);
        int offset = 0;
        for (; offset + 8 <= data.Length; offset += 8)
        {
            ulong lane = BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]);
            hash ^= BitOperations.RotateLeft(lane * Prime2, 31) * Prime1;
            hash = BitOperations.RotateLeft(hash, 27) * Prime1 + Prime3;
        }
        if (offset < data.Length)
        {
            ulong tail = 0;
            var rest = data[offset..];
            for (int i = rest.Length - 1; i >= 0; i--) tail = (tail << 8) | rest[i];
            hash ^= BitOperations.RotateLeft(tail * Prime2, 31) * Prime1;
            hash = BitOperations.RotateLeft(hash, 27) * Prime1 + Prime3;
        }
        return Finalize(hash);
    }

    /// <summary>Avalanches every input bit into every output bit (the SplitMix64 finalizer).</summary>
    public static ulong Finalize(ulong value)
    {
        value ^= value >> 30;
        value *= 0xBF58476D1CE4E5B9UL;
        value ^= value >> 27;
        value *= 0x94D049BB133111EBUL;
        value ^= value >> 31;
        return value;
    }
}
