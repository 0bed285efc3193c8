using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Diagnosers;

namespace Orleans.Shuffle.Benchmarks;

// The push and fetch path benchmarks again, under EventPipe with GC allocation-tick events (one per
// ~100 KB allocated, with its managed stack), to find where the allocated bytes come from:
// `--filter '*AllocTrace*'`; the .nettrace files land in BenchmarkDotNet.Artifacts. Not matched by
// '*PushPath*' or '*FetchPath*', so the plain runs stay untraced.

[EventPipeProfiler(EventPipeProfile.GcVerbose)]
public class AllocTracePush : PushPathBenchmarks;

[EventPipeProfiler(EventPipeProfile.GcVerbose)]
public class AllocTraceFetch : FetchPathBenchmarks;

[EventPipeProfiler(EventPipeProfile.GcVerbose)]
public class AllocTraceWriter : PushPathClientBenchmarks;
