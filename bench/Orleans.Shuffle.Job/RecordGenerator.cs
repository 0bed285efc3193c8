using System.Buffers.Binary;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Generates the records of one map task: a deterministic SplitMix64 stream seeded from
/// (seed, mapId) fills a caller-owned buffer, so a gigabyte of records costs no allocation and two
/// attempts of the same map (or a verifier) produce exactly the same bytes. The attempt id is
/// deliberately not an input: a retried map must write what the first attempt wrote.
/// Each record is a <see cref="KeyBytes"/>-byte key followed by the value.
/// </summary>
public sealed class RecordGenerator
{
    public const int KeyBytes = 10;

    /// <summary>Large enough for any sensible benchmark, small enough that one record fits a push comfortably.</summary>
    public const int MaxRecordSize = 8 << 20;

    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    private ulong _state;

    public RecordGenerator(long seed, int mapId, int recordSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(mapId);
        if (recordSize is < KeyBytes or > MaxRecordSize)
            throw new ArgumentOutOfRangeException(nameof(recordSize), recordSize, $"A record is {KeyBytes} to {MaxRecordSize} bytes.");
        RecordSize = recordSize;
        // Two rounds of the finalizer keep neighbouring seeds and map ids far apart in the stream.
        _state = RecordHash.Finalize(unchecked((ulong)seed) ^ RecordHash.Finalize((ulong)mapId + Gamma));
    }

    public int RecordSize { get; }

    /// <summary>Overwrites <paramref name="record"/> (exactly <see cref="RecordSize"/> bytes) with the next record.</summary>
    public void NextRecord(Span<byte> record)
    {
        if (record.Length != RecordSize)
            throw new ArgumentException($"The buffer must be exactly {RecordSize} bytes.", nameof(record));
        int offset = 0;
        for (; offset + 8 <= record.Length; offset += 8)
            BinaryPrimitives.WriteUInt64LittleEndian(record[offset..], NextUInt64());
        if (offset < record.Length)
        {
            ulong tail = NextUInt64();
            for (; offset < record.Length; offset++, tail >>= 8) record[offset] = (byte)tail;
        }
    }

    private ulong NextUInt64()
    {
        _state = unchecked(_state + Gamma);
        return RecordHash.Finalize(_state);
    }

    /// <summary>How many of <paramref name="totalRecords"/> map <paramref name="mapId"/> generates: an even split, the first maps taking the remainder.</summary>
    public static long RecordsOfMap(long totalRecords, int numMaps, int mapId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalRecords);
        ArgumentOutOfRangeException.ThrowIfLessThan(numMaps, 1);
        if (mapId < 0 || mapId >= numMaps) throw new ArgumentOutOfRangeException(nameof(mapId));
        long share = totalRecords / numMaps;
        return share + (mapId < totalRecords % numMaps ? 1 : 0);
    }
}

/// <summary>
/// Decides the partition of a record from its key: the key's hash modulo the number of
/// partitions, except that a <c>skew</c> fraction of records, chosen by a second hash of the key
/// (so deterministically per record, not per position), is sent to partition 0 to make it hot.
/// </summary>
public sealed class RecordPartitioner
{
    // 2^53: skew draws use the top 53 bits of a hash, the precision of a double.
    private const double DrawScale = 9007199254740992.0;
    private const ulong SkewSalt = 0xD6E8FEB86659FD93UL;

    private readonly ulong _skewThreshold;

    public RecordPartitioner(int numPartitions, double skew)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numPartitions, 1);
        if (double.IsNaN(skew) || skew < 0 || skew > 1)
            throw new ArgumentOutOfRangeException(nameof(skew), skew, "Skew is a fraction between 0 and 1.");
        NumPartitions = numPartitions;
        Skew = skew;
        _skewThreshold = (ulong)(skew * DrawScale);
    }

    public int NumPartitions { get; }

    public double Skew { get; }

    public int PartitionOf(ReadOnlySpan<byte> record)
    {
        ulong keyHash = RecordHash.Hash64(record[..RecordGenerator.KeyBytes]);
        if (_skewThreshold > 0 && (RecordHash.Finalize(keyHash ^ SkewSalt) >> 11) < _skewThreshold) return 0;
        return (int)(keyHash % (ulong)NumPartitions);
    }
}
