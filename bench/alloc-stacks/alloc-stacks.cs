#:package Microsoft.Diagnostics.Tracing.TraceEvent@3.1.21
// Where a benchmark's allocated bytes come from: reads the .nettrace files that the AllocTrace*
// benchmarks write (EventPipe, GC allocation-tick events, one per ~100 KB allocated, with their
// managed stacks) and prints the sampled bytes by type and by the stack that allocated them.
//
//   dotnet run bench/alloc-stacks/alloc-stacks.cs -- BenchmarkDotNet.Artifacts/<file>.nettrace [frames]
//
// Samples include the benchmark's setup and warm-up: read the stacks, not the totals.
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: alloc-stacks.cs FILE.nettrace [frames]");
    return 2;
}
int frames = args.Length > 1 ? int.Parse(args[1]) : 8;
string etlx = TraceLog.CreateFromEventPipeDataFile(args[0]);
using var log = new TraceLog(etlx);
var byType = new Dictionary<string, long>();
var byStack = new Dictionary<string, long>();
long total = 0;
foreach (var e in log.Events)
{
    if (e is not GCAllocationTickTraceData tick) continue;
    long bytes = tick.AllocationAmount64;
    total += bytes;
    string type = tick.TypeName ?? "?";
    byType[type] = byType.GetValueOrDefault(type) + bytes;
    var names = new List<string>();
    for (var frame = e.CallStack(); frame is not null && names.Count < frames; frame = frame.Caller)
    {
        string method = frame.CodeAddress.FullMethodName;
        if (!string.IsNullOrEmpty(method)) names.Add(method);
    }
    string key = type + "\n      " + string.Join("\n      ", names);
    byStack[key] = byStack.GetValueOrDefault(key) + bytes;
}
Console.WriteLine($"sampled {total:N0} bytes");
foreach (var (type, bytes) in byType.OrderByDescending(p => p.Value).Take(20)) Console.WriteLine($"{bytes,14:N0}  {type}");
Console.WriteLine();
foreach (var (stack, bytes) in byStack.OrderByDescending(p => p.Value).Take(25)) Console.WriteLine($"{bytes,14:N0}  {stack}\n");
return 0;
