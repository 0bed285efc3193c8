using System.Numerics;
using System.Runtime.InteropServices;

namespace Orleans.Shuffle.Batches;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of iSCSI, ext4 and most storage systems. Uses the CPU's
/// CRC32 instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/> where there is one.
/// <see cref="Append"/> takes and returns the finished value, so a checksum can be built in pieces.
/// <para>
/// The instruction takes three cycles but can start one per cycle, so one dependent chain runs at a
/// third of its speed. Long inputs are therefore checksummed in stripes of three lanes of
/// <see cref="LaneBytes"/> each, computed side by side and joined: the register after a lane is the
/// lane's own CRC (from zero) plus the register before it shifted by the lane's length, a carry-less
/// multiplication by x^(8 * length) modulo the polynomial (the same algebra as zlib's crc32_combine).
/// The two shifts are by constants, so they are table lookups: a stripe costs eight of them.
/// </para>
/// </summary>
public static class Crc32C
{
    /// <summary>Bytes of one lane of a stripe; three lanes make a stripe.</summary>
    internal const int LaneBytes = 2048;

    /// <summary>The reflected CRC-32C polynomial.</summary>
    private const uint Polynomial = 0x82F63B78;

    // Multiplication by x^(8 * LaneBytes) and by x^(16 * LaneBytes) modulo the polynomial (shifting a
    // register past one or two lanes), one table of 256 per byte of the register: 8 KiB in all.
    private static readonly uint[] ShiftOneLane = ShiftTable(PowerOfX(8L * LaneBytes));
    private static readonly uint[] ShiftTwoLanes = ShiftTable(PowerOfX(16L * LaneBytes));

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint state = ~crc;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        int stripes = words.Length / (3 * LaneWords);
        for (int s = 0; s < stripes; s++)
        {
            var stripe = words.Slice(s * 3 * LaneWords, 3 * LaneWords);
            uint a = state, b = 0, c = 0;
            for (int i = 0; i < LaneWords; i++)
            {
                a = BitOperations.Crc32C(a, stripe[i]);
                b = BitOperations.Crc32C(b, stripe[LaneWords + i]);
                c = BitOperations.Crc32C(c, stripe[2 * LaneWords + i]);
            }
            state = Shift(a, ShiftTwoLanes) ^ Shift(b, ShiftOneLane) ^ c;
        }
        foreach (ulong word in words[(stripes * 3 * LaneWords)..]) state = BitOperations.Crc32C(state, word);
        foreach (byte b in data[(words.Length * 8)..]) state = BitOperations.Crc32C(state, b);
        return ~state;
    }

    private const int LaneWords = LaneBytes / sizeof(ulong);

    /// <summary>register * constant, from the constant's <see cref="ShiftTable"/>: the product is linear in the register's bytes.</summary>
    private static uint Shift(uint register, uint[] table) =>
        table[(byte)register] ^ table[256 + (byte)(register >> 8)] ^ table[512 + (byte)(register >> 16)] ^ table[768 + (register >> 24)];

    private static uint[] ShiftTable(uint constant)
    {
        var table = new uint[4 * 256];
        for (int i = 0; i < 4; i++)
        {
            for (uint b = 0; b < 256; b++) table[i * 256 + b] = Multiply(b << (8 * i), constant);
        }
        return table;
    }

    /// <summary>a * b modulo the polynomial, both in the reflected representation (bit 31 is x^0).</summary>
    private static uint Multiply(uint a, uint b)
    {
        uint product = 0;
        // Bounded: 32 rounds, one per bit of a.
        for (int bit = 31; bit >= 0; bit--)
        {
            if ((a & (1u << bit)) != 0) product ^= b;
            b = (b & 1) != 0 ? (b >> 1) ^ Polynomial : b >> 1;
        }
        return product;
    }

    /// <summary>x^n modulo the polynomial, by squaring.</summary>
    private static uint PowerOfX(long n)
    {
        uint result = 1u << 31; // x^0
        uint square = 1u << 30; // x^1
        // Bounded: one round per bit of n.
        for (; n > 0; n >>= 1)
        {
            if ((n & 1) != 0) result = Multiply(result, square);
            square = Multiply(square, square);
        }
        return result;
    }
}
