using System.Buffers.Binary;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Generates the records of one map task: a deterministic SplitMix64 stream seeded from
/// (seed, mapId) fills a caller-owned buffer, so a gigabyte of records costs no allocation and two
/// attempts of the same map (or a verifier) produce exactly the same bytes. The attempt id is
/// deliberately not an input: a retried map must write what the first attempt wrote.
/// Each record is a <see cref="KeyBytes"/>-byte key followed by the value: random bytes, which no
/// codec shrinks, or (<see cref="RecordValues.Text"/>) words of a small vocabulary, which compress
/// about as well as log lines or CSV do.
/// </summary>
public sealed class RecordGenerator
{
    public const int KeyBytes = 10;

    /// <summary>Large enough for any sensible benchmark, small enough that one record fits a push comfortably.</summary>
    public const int MaxRecordSize = 8 << 20;

    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    // 64 words, so one random draw of 6 bits picks one; short and long ones, as in text.
    private static readonly byte[][] Words = [.. """
        the of and to in is was for on that with as by at from his her an are be this which or had
        not but have were they one all their been has more its who when would will there can some
        shuffle partition record value orleans silo reducer mapper stage executor spark batch
        data file node disk task job key read write
        """.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(w => System.Text.Encoding.ASCII.GetBytes(w + " "))];

    private readonly RecordValues _values;
    private ulong _state;

    public RecordGenerator(long seed, int mapId, int recordSize, RecordValues values = RecordValues.Random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(mapId);
        if (recordSize is < KeyBytes or > MaxRecordSize)
            throw new ArgumentOutOfRangeException(nameof(recordSize), recordSize, $"A record is {KeyBytes} to {MaxRecordSize} bytes.");
        RecordSize = recordSize;
        if (!Enum.IsDefined(values)) throw new ArgumentOutOfRangeException(nameof(values), values, "Unknown kind of values.");
        _values = values;
        // Two rounds of the finalizer keep neighbouring seeds and map ids far apart in the stream.
        _state = RecordHash.Finalize(unchecked((ulong)seed) ^ RecordHash.Finalize((ulong)mapId + Gamma));
    }

    public int RecordSize { get; }

    /// <summary>Overwrites <paramref name="record"/> (exactly <see cref="RecordSize"/> bytes) with the next record.</summary>
    public void NextRecord(Span<byte> record)
    {
        if (record.Length != RecordSize)
            throw new ArgumentException($"The buffer must be exactly {RecordSize} bytes.", nameof(record));
        if (_values == RecordValues.Text)
        {
            FillRandom(record[..KeyBytes]);
            FillText(record[KeyBytes..]);
        }
        else
        {
            FillRandom(record);
        }
    }

    private void FillRandom(Span<byte> bytes)
    {
        int offset = 0;
        for (; offset + 8 <= bytes.Length; offset += 8)
            BinaryPrimitives.WriteUInt64LittleEndian(bytes[offset..], NextUInt64());
        if (offset < bytes.Length)
        {
            ulong tail = NextUInt64();
            for (; offset < bytes.Length; offset++, tail >>= 8) bytes[offset] = (byte)tail;
        }
    }

    /// <summary>Words drawn 6 bits at a time from the stream, the last one cut to fit.</summary>
    private void FillText(Span<byte> bytes)
    {
        int offset = 0;
        // Bounded: every word is at least two bytes long.
        while (offset < bytes.Length)
        {
            ulong draws = NextUInt64();
            for (int i = 0; i < 10 && offset < bytes.Length; i++, draws >>= 6)
            {
                var word = Words[(int)(draws & 63)];
                int n = Math.Min(word.Length, bytes.Length - offset);
                word.AsSpan(0, n).CopyTo(bytes[offset..]);
                offset += n;
            }
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

/// <summary>What the value of a generated record is made of (the job's --values).</summary>
public enum RecordValues
{
    /// <summary>Random bytes: the benchmark's default, incompressible like encrypted or already compressed data.</summary>
    Random,

    /// <summary>Words of a 64-word vocabulary: compressible, like text, logs or CSV.</summary>
    Text,
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
