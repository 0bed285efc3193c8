using System.Numerics;
using System.Runtime.InteropServices;

namespace Orleans.Shuffle.Batches;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of iSCSI, ext4 and most storage systems. Uses the CPU's
/// CRC32 instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/> where there is one.
/// <see cref="Append"/> takes and returns the finished value, so a checksum can be built in pieces.
/// </summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint state = ~crc;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong word in words) state = BitOperations.Crc32C(state, word);
        foreach (byte b in data[(words.Length * 8)..]) state = BitOperations.Crc32C(state, b);
        return ~state;
    }
}
