using System.Buffers.Binary;
using System.Text;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Batches;

public class Crc32CTests
{
    [Fact]
    public void Known_vector()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, Crc32C.Compute([]));
        // RFC 3720 B.4: 32 bytes of zeros.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
    }

    [Fact]
    public void Matches_a_bitwise_reference_for_every_length_up_to_300()
    {
        var data = TestBatches.Payload(300, seed: 5);
        for (int length = 0; length <= data.Length; length++)
        {
            Assert.Equal(TestBatches.ReferenceCrc32C(data.AsSpan(0, length)), Crc32C.Compute(data.AsSpan(0, length)));
        }
    }

    [Fact]
    public void Matches_a_bitwise_reference_around_and_across_three_lane_stripes()
    {
        const int stripe = 3 * Crc32C.LaneBytes;
        var data = TestBatches.Payload(4 * stripe + 100, seed: 11);
        var lengths = new List<int>();
        for (int k = 1; k <= 4; k++) lengths.AddRange([k * stripe - 9, k * stripe - 1, k * stripe, k * stripe + 1, k * stripe + 8, k * stripe + 13]);
        foreach (int length in lengths)
        {
            Assert.Equal(TestBatches.ReferenceCrc32C(data.AsSpan(0, length)), Crc32C.Compute(data.AsSpan(0, length)));
            // From a running value too, and at an offset that is not a multiple of 8.
            Assert.Equal(TestBatches.ReferenceCrc32C(data.AsSpan(3, length)), Crc32C.Append(Crc32C.Compute(data.AsSpan(3, 0)), data.AsSpan(3, length)));
            uint head = Crc32C.Compute(data.AsSpan(0, 5));
            Assert.Equal(TestBatches.ReferenceCrc32C(data.AsSpan(0, length + 5)), Crc32C.Append(head, data.AsSpan(5, length)));
        }
    }

    [Fact]
    public void Append_in_pieces_equals_whole()
    {
        var data = TestBatches.Payload(1000, seed: 7);
        uint whole = Crc32C.Compute(data);
        for (int cut = 0; cut <= data.Length; cut += 13)
        {
            Assert.Equal(whole, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, cut)), data.AsSpan(cut)));
        }
        uint pieces = 0;
        var random = new Random(3);
        for (int offset = 0; offset < data.Length;)
        {
            int length = Math.Min(random.Next(0, 40), data.Length - offset);
            pieces = Crc32C.Append(pieces, data.AsSpan(offset, length));
            offset += length;
        }
        Assert.Equal(whole, pieces);
    }
}

public class BatchHeaderTests
{
    [Fact]
    public void Write_then_read_and_verify()
    {
        var payload = TestBatches.Payload(123, seed: 1);
        var batch = TestBatches.Make(4, 2, 9, payload);
        Assert.True(BatchHeader.TryRead(batch, out var header));
        Assert.Equal(new BatchHeader(4, 2, 9, 123, BatchCodec.None, 123, header.Crc), header);
        Assert.Equal(BatchHeader.Size + 123, header.TotalLength);
        Assert.Equal(TestBatches.ReferenceCrc32C(batch.AsSpan(0, 24).ToArray().Concat(payload).ToArray()), header.Crc);
        Assert.True(header.Verify(batch, batch.AsSpan(BatchHeader.Size)));
    }

    [Fact]
    public void Impossible_codec_fields_are_refused()
    {
        var good = TestBatches.Make(1, 0, 0, TestBatches.Payload(40, seed: 3));
        Assert.True(BatchHeader.TryRead(good, out _));
        foreach (var (offset, value, why) in new (int, byte, string)[]
        {
            (16, 3, "unknown codec"), (17, 1, "reserved byte"), (18, 1, "reserved u16"), (19, 0x80, "reserved u16, high byte"),
            (20, 41, "rawLength differs from payloadLength for codec None"), (23, 0x80, "negative rawLength"),
        })
        {
            var bad = (byte[])good.Clone();
            bad[offset] = value;
            Assert.False(BatchHeader.TryRead(bad, out _), why);
        }
        // A compressed batch may decode to more bytes than it stores, up to the batch limit.
        var lz4 = (byte[])good.Clone();
        lz4[16] = (byte)BatchCodec.Lz4;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(lz4.AsSpan(20), ProtocolConstants.MaxBatchPayloadBytes);
        Assert.True(BatchHeader.TryRead(lz4, out var header));
        Assert.Equal((BatchCodec.Lz4, ProtocolConstants.MaxBatchPayloadBytes), (header.Codec, header.RawLength));
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(lz4.AsSpan(20), ProtocolConstants.MaxBatchPayloadBytes + 1);
        Assert.False(BatchHeader.TryRead(lz4, out _));
    }

    [Fact]
    public void Verify_fails_when_any_covered_byte_changes()
    {
        var batch = TestBatches.Make(1, 0, 0, TestBatches.Payload(40, seed: 2));
        Assert.True(BatchHeader.TryRead(batch, out var header));
        for (int i = 0; i < batch.Length; i++)
        {
            if (i is >= 24 and < 28) continue; // the stored checksum itself
            batch[i] ^= 0x10;
            Assert.False(header.Verify(batch, batch.AsSpan(BatchHeader.Size)), $"byte {i}");
            batch[i] ^= 0x10;
        }
    }

    [Theory]
    [InlineData(-1, 0, 0, 0)]
    [InlineData(0, -1, 0, 0)]
    [InlineData(0, 0, -1, 0)]
    [InlineData(0, 0, 0, -1)]
    [InlineData(0, 0, 0, ProtocolConstants.MaxBatchPayloadBytes + 1)]
    public void Impossible_fields_are_refused(int map, int attempt, int batch, int length)
    {
        var raw = new byte[BatchHeader.Size];
        BinaryPrimitives.WriteInt32LittleEndian(raw, map);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(4), attempt);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(8), batch);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(12), length);
        Assert.False(BatchHeader.TryRead(raw, out _));
    }

    [Fact]
    public void A_short_header_is_refused()
    {
        Assert.False(BatchHeader.TryRead(new byte[BatchHeader.Size - 1], out _));
    }
}

public class BatchIteratorTests
{
    private static byte[] ThreeBatches() =>
    [
        .. TestBatches.Make(0, 0, 0, TestBatches.Payload(10, 1)),
        .. TestBatches.Make(1, 2, 7, []),
        .. TestBatches.Make(2, 0, 1, TestBatches.Payload(300, 2)),
    ];

    private static List<(BatchHeader Header, byte[] Payload)> ReadAll(byte[] buffer, bool verify = true)
    {
        var list = new List<(BatchHeader, byte[])>();
        var iterator = new BatchIterator(buffer, verify);
        while (iterator.MoveNext(out var header, out var payload)) list.Add((header, payload.ToArray()));
        Assert.Equal(buffer.Length, iterator.Offset);
        return list;
    }

    [Fact]
    public void Walks_back_to_back_batches()
    {
        var batches = ReadAll(ThreeBatches());
        Assert.Equal([(0, 0, 0, 10), (1, 2, 7, 0), (2, 0, 1, 300)],
            batches.Select(b => (b.Header.MapId, b.Header.AttemptId, b.Header.BatchId, b.Payload.Length)));
        Assert.Equal(TestBatches.Payload(300, 2), batches[2].Payload);
        Assert.Empty(ReadAll([]));
    }

    [Fact]
    public void A_flipped_payload_byte_is_a_checksum_mismatch()
    {
        var buffer = ThreeBatches();
        int lastPayload = buffer.Length - 5;
        buffer[lastPayload] ^= 1;
        var e = Assert.Throws<GridException>(() => ReadAll(buffer));
        Assert.Equal(GridErrorCode.ChecksumMismatch, e.Code);
        // Without verification the same bytes walk fine: the iterator only checks when asked.
        Assert.Equal(3, ReadAll(buffer, verify: false).Count);
    }

    [Fact]
    public void Every_truncation_is_detected()
    {
        var buffer = ThreeBatches();
        var boundaries = new HashSet<int> { 0, BatchHeader.Size + 10, 2 * BatchHeader.Size + 10, buffer.Length };
        for (int length = 1; length < buffer.Length; length++)
        {
            if (boundaries.Contains(length)) continue;
            var cut = buffer[..length];
            var e = Assert.Throws<GridException>(() => ReadAll(cut, verify: false));
            Assert.Equal(GridErrorCode.MalformedFrame, e.Code);
        }
    }

    [Fact]
    public void Random_bytes_throw_nothing_but_GridException()
    {
        var random = new Random(21);
        for (int i = 0; i < 2000; i++)
        {
            var buffer = new byte[random.Next(0, 80)];
            random.NextBytes(buffer);
            if (buffer.Length >= 16 && random.Next(2) == 0)
            {
                BinaryPrimitives.WriteInt32LittleEndian(buffer, random.Next(3));
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4), 0);
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(8), 0);
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(12), random.Next(0, 64));
            }
            try
            {
                ReadAllUnchecked(buffer);
            }
            catch (GridException e)
            {
                Assert.True(e.Code is GridErrorCode.MalformedFrame or GridErrorCode.ChecksumMismatch, e.Code.ToString());
            }
        }

        static void ReadAllUnchecked(byte[] buffer)
        {
            var iterator = new BatchIterator(buffer);
            // Bounded: each batch advances by at least its header.
            while (iterator.MoveNext(out _, out _)) { }
        }
    }
}
