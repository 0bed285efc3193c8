using System.Collections.Concurrent;
using System.Diagnostics;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>
/// A process a test starts: output collected, bounded by a timeout after which this test kills it
/// and everything it started, through its own Process object.
/// </summary>
public sealed partial class ChildProcess : IDisposable
{
    public const int SigTerm = 15;
    public const int SigStop = 19;
    public const int SigCont = 18;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ChildProcess(Process process) => _process = process;

    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            CreateNoWindow = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) child._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) child._output.Enqueue("stderr: " + e.Data); };
        if (!process.Start()) throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public IReadOnlyCollection<string> Output => _output;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Sends a signal (SIGTERM, SIGSTOP, SIGCONT) to this process only, by its pid.</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited && Kill(_process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public string Tail(int lines = 60) => string.Join(Environment.NewLine, _output.TakeLast(lines));

    /// <summary>The exit code, or null if the process did not exit in time (it has been killed, with its children).</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            _process.WaitForExit(); // flushes the redirected output
            return _process.ExitCode;
        }
        catch (TimeoutException)
        {
            Kill();
            return null;
        }
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
