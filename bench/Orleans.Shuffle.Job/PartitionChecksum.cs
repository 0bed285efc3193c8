using System.Globalization;

namespace Orleans.Shuffle.Job;

/// <summary>
/// An order-independent summary of the records of one partition: how many, how many bytes, and
/// the sum (mod 2^64) of each record's 64-bit hash. A sum does not care in which order records
/// arrive or which reducer batch carried them, yet a lost, duplicated or corrupted record changes
/// it with overwhelming probability, which is exactly what the job verifies.
/// </summary>
public struct PartitionChecksum : IEquatable<PartitionChecksum>
{
    public long Records { get; private set; }

    public long Bytes { get; private set; }

    public ulong Sum { get; private set; }

    public PartitionChecksum(long records, long bytes, ulong sum)
    {
        Records = records;
        Bytes = bytes;
        Sum = sum;
    }

    public void Add(ReadOnlySpan<byte> record)
    {
        Records++;
        Bytes += record.Length;
        Sum = unchecked(Sum + RecordHash.Hash64(record));
    }

    /// <summary>Adds another summary, e.g. the same partition as written by another map.</summary>
    public void Add(PartitionChecksum other)
    {
        Records += other.Records;
        Bytes += other.Bytes;
        Sum = unchecked(Sum + other.Sum);
    }

    /// <summary>The checksum as 16 hex digits: JSON readers that turn numbers into doubles would lose a ulong.</summary>
    public readonly string SumHex => FormatSum(Sum);

    public static string FormatSum(ulong sum) => sum.ToString("x16", CultureInfo.InvariantCulture);

    public static ulong ParseSum(string hex) => ulong.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    public readonly bool Equals(PartitionChecksum other) => Records == other.Records && Bytes == other.Bytes && Sum == other.Sum;

    public override readonly bool Equals(object? obj) => obj is PartitionChecksum other && Equals(other);

    public override readonly int GetHashCode() => HashCode.Combine(Records, Bytes, Sum);

    public static bool operator ==(PartitionChecksum left, PartitionChecksum right) => left.Equals(right);

    public static bool operator !=(PartitionChecksum left, PartitionChecksum right) => !left.Equals(right);

    public override readonly string ToString() => $"{Records} records, {Bytes} bytes, sum {SumHex}";
}
