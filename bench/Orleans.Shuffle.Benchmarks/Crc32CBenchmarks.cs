using BenchmarkDotNet.Attributes;
using Orleans.Shuffle.Batches;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>CRC32C over a 64 KiB batch: it runs on push (client and silo) and on read.</summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    private readonly byte[] _data = new byte[64 * 1024];

    [GlobalSetup]
    public void Setup() => new Random(3).NextBytes(_data);

    [Benchmark(Description = "CRC32C 64 KiB")]
    public uint Compute() => Crc32C.Compute(_data);
}
