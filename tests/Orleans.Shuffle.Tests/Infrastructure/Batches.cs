using System.Buffers.Binary;
using System.Text;
using Orleans.Shuffle.Batches;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Builds batches (header + payload) and record payloads the way the documented format says.</summary>
public static class TestBatches
{
    public static byte[] Make(int mapId, int attemptId, int batchId, ReadOnlySpan<byte> payload)
    {
        var batch = new byte[BatchHeader.Size + payload.Length];
        payload.CopyTo(batch.AsSpan(BatchHeader.Size));
        BatchHeader.Write(batch, mapId, attemptId, batchId, payload);
        return batch;
    }

    /// <summary>A deterministic payload of <paramref name="length"/> bytes.</summary>
    public static byte[] Payload(int length, int seed)
    {
        var payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    /// <summary>Records framed as the reference client frames them: u32 little-endian length, then the bytes.</summary>
    public static byte[] FrameRecords(IEnumerable<string> records)
    {
        using var output = new MemoryStream();
        Span<byte> prefix = stackalloc byte[4];
        foreach (string record in records)
        {
            var bytes = Encoding.UTF8.GetBytes(record);
            BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)bytes.Length);
            output.Write(prefix);
            output.Write(bytes);
        }
        return output.ToArray();
    }

    /// <summary>A plain bitwise CRC-32C (reflected polynomial 0x82F63B78), independent of the product's.</summary>
    public static uint ReferenceCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }
}
