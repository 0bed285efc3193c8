using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Orleans.Shuffle.Benchmarks.Crc32CBenchmarks).Assembly).Run(args);
