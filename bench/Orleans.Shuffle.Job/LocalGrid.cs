using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Orleans.Shuffle.Job;

/// <summary>What a silo announced on its "SILO READY" line: its Orleans identity and the endpoints it listens on.</summary>
internal sealed record SiloReady(string Name, string Identity, string GatewayEndpoint, string DataEndpoint, string HttpEndpoint)
{
    public const string Prefix = "SILO READY ";

    /// <summary>Parses "SILO READY name=.. identity=.. silo=.. gateway=host:port data=host:port http=host:port"; null if the line is not one.</summary>
    public static SiloReady? TryParse(string line)
    {
        if (!line.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string token in line[Prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = token.IndexOf('=');
            if (equals > 0) fields[token[..equals]] = token[(equals + 1)..];
        }
        return fields.TryGetValue("name", out string? name) && fields.TryGetValue("identity", out string? identity)
            ? new SiloReady(name, identity, fields.GetValueOrDefault("gateway", ""), fields.GetValueOrDefault("data", ""), fields.GetValueOrDefault("http", ""))
            : null;
    }
}

/// <summary>One silo process of a local grid: its process, log file, and the READY line it printed.</summary>
internal sealed class LocalSilo
{
    private const int TailLines = 20;

    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource<SiloReady> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StreamWriter _log;
    private readonly Task _pumps;

    public LocalSilo(string name, Process process, string logPath)
    {
        Name = name;
        Process = process;
        LogPath = logPath;
        _log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        _pumps = Task.WhenAll(PumpStdoutAsync(), PumpAsync(process.StandardError, "stderr: "));
    }

    public string Name { get; }

    public Process Process { get; }

    public string LogPath { get; }

    public Task<SiloReady> Ready => _ready.Task;

    /// <summary>True once the job killed this silo on purpose (--kill-silo): its death is not a failure to report.</summary>
    public bool Killed { get; private set; }

    /// <summary>True while the job holds this silo stopped (--hang-silo): its death after it resumes, declared Dead meanwhile, is not a failure to report.</summary>
    public bool Hung { get; private set; }

    /// <summary>Killed or hung by the job on purpose.</summary>
    public bool Faulted => Killed || Hung;

    /// <summary>Stops the silo process with SIGSTOP: it keeps its sockets (the kernel still accepts connections) but answers nothing, as a hung process or a long pause does.</summary>
    public bool Hang()
    {
        Hung = true;
        bool sent = ChildProcesses.Signal(Process, ChildProcesses.SigStop);
        if (sent) WriteLog("# stopped with SIGSTOP by the job (--hang-silo)");
        return sent;
    }

    /// <summary>Lets a hung silo run again (SIGCONT).</summary>
    public void Resume()
    {
        if (Hung && ChildProcesses.Signal(Process, ChildProcesses.SigCont)) WriteLog("# resumed with SIGCONT by the job (--hang-silo)");
    }

    private void WriteLog(string line)
    {
        try
        {
            _log.WriteLine(line);
        }
        catch (ObjectDisposedException)
        {
            // Stopped already.
        }
    }

    /// <summary>Kills the silo process with SIGKILL (no shutdown, no goodbye to the membership table) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        Killed = true;
        try
        {
            // Only the silo itself: it starts no children, and this is what a crash or an OOM kill does.
            if (!Process.HasExited) Process.Kill(entireProcessTree: false);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Exited by itself meanwhile.
        }
        try
        {
            await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Reported by the caller through Process.HasExited.
        }
        lock (_tail)
        {
            try
            {
                _log.WriteLine("# killed with SIGKILL by the job (--kill-silo)");
            }
            catch (ObjectDisposedException)
            {
                // Stopped already.
            }
        }
    }

    public string Tail()
    {
        lock (_tail) return string.Join(Environment.NewLine, _tail.Select(line => "    " + line));
    }

    public string? ExitDescription()
    {
        try
        {
            return Process.HasExited ? $"{Name} exited with code {Process.ExitCode}" : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public async Task StopAsync()
    {
        await ChildProcesses.StopAsync(Process, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        try
        {
            await _pumps.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Output held open by something else; the log has what arrived.
        }
        lock (_tail)
        {
            // A silo that stops cleanly exits 0; anything else on shutdown is worth a look in the log.
            if (ExitDescription() is { } exit) _log.WriteLine($"# {exit}");
            _log.Dispose();
        }
        _ready.TrySetException(new InvalidOperationException($"{Name} was stopped before it was ready."));
    }

    private async Task PumpStdoutAsync()
    {
        await PumpAsync(Process.StandardOutput, "").ConfigureAwait(false);
        // End of stdout means the process is gone (or going); if it never said READY, say why.
        try
        {
            await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Closed stdout but still running: reported as such below.
        }
        _ready.TrySetException(new InvalidOperationException(
            $"{ExitDescription() ?? Name + " closed its output"} before it was ready."));
    }

    private async Task PumpAsync(StreamReader reader, string prefix)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (prefix.Length == 0 && SiloReady.TryParse(line) is { } ready) _ready.TrySetResult(ready);
            lock (_tail)
            {
                _tail.Enqueue(prefix + line);
                if (_tail.Count > TailLines) _tail.Dequeue();
                try
                {
                    _log.WriteLine(prefix + line);
                }
                catch (ObjectDisposedException)
                {
                    // Stopped already; late lines are not needed.
                }
            }
        }
    }
}

/// <summary>
/// A grid of silo processes on this machine, of a cluster id unique to it, sharing the embedded
/// (file) stores in the work directory, or DynamoDB tables. Orleans' silo and gateway ports are
/// free ports found here; the data and HTTP ports the silos pick themselves (port 0) and announce on
/// their READY line, so several grids can run side by side. Every silo watches this process and
/// stops if it dies. Disposing stops exactly the processes it started.
/// </summary>
internal sealed class LocalGrid : IAsyncDisposable
{
    private readonly List<LocalSilo> _silos = [];

    private readonly IReadOnlyList<string> _siloArguments;

    // The grid's certificate when its silos speak TLS: the .pfx they serve with, the .cer clients pin.
    private (string Pfx, string Cer)? _tls;

    private LocalGrid(string clusterId, string workDirectory, string siloDll, IReadOnlyList<string> siloArguments, DynamoDBSettings? dynamoDB)
    {
        ClusterId = clusterId;
        WorkDirectory = workDirectory;
        SiloDll = siloDll;
        _siloArguments = siloArguments;
        DynamoDB = dynamoDB;
        MembershipDirectory = Path.Combine(workDirectory, "membership");
    }

    public string ClusterId { get; }

    /// <summary>The DynamoDB membership table of the silos; null for the embedded file.</summary>
    public DynamoDBSettings? DynamoDB { get; }

    public string WorkDirectory { get; }

    public string SiloDll { get; }

    /// <summary>The embedded stores' directory (membership, grain state, reminders); unused with DynamoDB.</summary>
    public string MembershipDirectory { get; }

    public IReadOnlyList<LocalSilo> Silos => _silos;

    /// <summary>
    /// CPU-seconds (user + system) each silo process still running has used so far, by silo name. Taken
    /// when the grid is ready and again after the job, the difference is what the job cost the grid as a
    /// running service (see <see cref="CpuSecondsBetween"/>).
    /// </summary>
    public IReadOnlyDictionary<string, double> SiloCpuSeconds()
    {
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var silo in _silos)
        {
            try
            {
                silo.Process.Refresh();
                if (!silo.Process.HasExited) seconds[silo.Name] = silo.Process.TotalProcessorTime.TotalSeconds;
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile (a killed silo): it has no figure.
            }
        }
        return seconds;
    }

    /// <summary>CPU-seconds between two <see cref="SiloCpuSeconds"/> samples, over the silos running at both (a killed silo does not count).</summary>
    public static double CpuSecondsBetween(IReadOnlyDictionary<string, double> start, IReadOnlyDictionary<string, double> end) =>
        end.Where(e => start.ContainsKey(e.Key)).Sum(e => e.Value - start[e.Key]);

    /// <summary>How the driver and executors reach this grid: through its membership store, as an engine's would.</summary>
    public GridAccess Access => new(ClusterId, DynamoDB is null ? MembershipDirectory : null, DynamoDB, null) { TlsCertificate = _tls?.Cer };

    /// <param name="siloArguments">Appended to every silo's command line (--silo-arg), e.g. "--Storage:ChunkBytes=1048576".</param>
    /// <param name="dynamoDB">The DynamoDB membership table for the silos (--membership dynamodb); null for the embedded file.</param>
    /// <param name="tls">TLS on every connection, with a certificate made here; DynamoDB silos always get one (they require TLS).</param>
    public static async Task<LocalGrid> StartAsync(
        int siloCount, string workDirectory, TimeSpan readyTimeout, IReadOnlyList<string> siloArguments, DynamoDBSettings? dynamoDB, bool tls, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(siloCount, 1);
        string siloDll = SiloLocator.Locate();
        string clusterId = "job-grid-" + Guid.NewGuid().ToString("N")[..8];
        var grid = new LocalGrid(clusterId, Path.GetFullPath(workDirectory), siloDll, siloArguments, dynamoDB);
        try
        {
            if (tls || dynamoDB is not null) grid._tls = ClusterCertificate.Create(Path.Combine(grid.WorkDirectory, "tls"));
            Directory.CreateDirectory(Path.Combine(grid.WorkDirectory, "logs"));
            for (int i = 1; i <= siloCount; i++) grid.StartSilo($"silo-{i}");
            var clock = Stopwatch.StartNew();
            await grid.WaitUntilReadyAsync(readyTimeout, ct).ConfigureAwait(false);
            await grid.WaitUntilConvergedAsync(readyTimeout - clock.Elapsed, ct).ConfigureAwait(false);
            return grid;
        }
        catch
        {
            await grid.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Names the silos that have died, other than those the job killed on purpose, for error messages; empty when all are running.</summary>
    public string DescribeExitedSilos()
    {
        var exited = _silos.Where(s => !s.Faulted).Select(s => (Silo: s, Exit: s.ExitDescription())).Where(e => e.Exit is not null).ToList();
        return string.Join(Environment.NewLine, exited.Select(e =>
            $"{e.Exit}; log {e.Silo.LogPath}, last lines:{Environment.NewLine}{e.Silo.Tail()}"));
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_silos.Select(s => s.StopAsync())).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the rows of this grid's cluster id from the DynamoDB membership table, once its silos
    /// are stopped: the cluster id is this run's own, and no silo is left to clean them up later.
    /// Nothing to do for the embedded stores (they live in the work directory).
    /// </summary>
    public async Task DeleteMembershipRowsAsync()
    {
        if (DynamoDB is null) return;
        var options = DynamoDB.ToOptions();
        using var client = options.CreateClient();
        using var table = new Clustering.DynamoDB.DynamoDBMembershipTable(client, options, ClusterId);
        await table.DeleteMembershipTableEntriesAsync(ClusterId).ConfigureAwait(false);
    }

    /// <summary>A cluster secret of this grid (32 random bytes, base64, readable by this user only), created once.</summary>
    private string ClusterSecretFile()
    {
        string path = Path.Combine(MembershipDirectory, "cluster.secret");
        if (File.Exists(path)) return path;
        ClusterCertificate.CreatePrivateDirectory(MembershipDirectory);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var writer = new StreamWriter(new FileStream(path, options));
        writer.Write(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        return path;
    }

    private void StartSilo(string name)
    {
        string siloDirectory = Path.Combine(WorkDirectory, name);
        string disk = Path.Combine(siloDirectory, "disk");
        Directory.CreateDirectory(disk);
        var (siloPort, gatewayPort) = FreePorts();
        string[] arguments =
        [
            "--cluster-id", ClusterId,
            "--name", name,
            "--silo-port", siloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--data-port", "0",
            "--http-port", "0",
            "--disk", disk,
            "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Also with DynamoDB: the directory is then unused, but nothing of the silo's lands outside the work directory.
            "--membership-dir", MembershipDirectory,
            .. DynamoDB?.SiloArguments() ?? [],
            // The embedded membership keeps the cluster secret in its directory; DynamoDB's silos share no
            // directory, so these, all on this machine, are given one file of the job's.
            .. DynamoDB is null ? [] : (string[])["--Security:ClusterSecretFile", ClusterSecretFile()],
            .. _tls is { } tls ? (string[])["--Security:TlsCertificateFile", tls.Pfx] : [],
            .. _siloArguments,
        ];
        var process = ChildProcesses.Start(DotnetHost.StartInfo(SiloDll, arguments, siloDirectory));
        _silos.Add(new LocalSilo(name, process, Path.Combine(WorkDirectory, "logs", name + ".log")));
    }

    /// <summary>
    /// Two ports free now, for Orleans' silo and gateway endpoints (Orleans needs them fixed before it
    /// starts). Held open together so they differ; another process could take one before the silo
    /// binds it, and then the silo says so and exits.
    /// </summary>
    private static (int Silo, int Gateway) FreePorts()
    {
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        first.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        second.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (((IPEndPoint)first.LocalEndPoint!).Port, ((IPEndPoint)second.LocalEndPoint!).Port);
    }

    /// <summary>
    /// Waits until every silo's own membership view lists all silos as Active. A silo that has said
    /// READY may not have read the others' rows yet; a shuffle registered then would be placed on
    /// fewer silos than the grid has (and a --kill-silo victim might hold none of its data).
    /// </summary>
    private async Task WaitUntilConvergedAsync(TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        string views = "";
        // Bounded by the timeout.
        while (true)
        {
            var seen = new List<string>();
            bool converged = true;
            foreach (var silo in _silos)
            {
                try
                {
                    int active = (await SiloState.FetchAsync(silo, ct).ConfigureAwait(false)).ActiveSilos;
                    seen.Add($"{silo.Name} sees {active} active");
                    converged &= active >= _silos.Count;
                }
                catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    seen.Add($"{silo.Name}: {e.Message}");
                    converged = false;
                }
            }
            if (converged) return;
            views = string.Join("; ", seen);
            if (clock.Elapsed >= timeout)
                throw new GridStartException($"The local grid's silos did not all see each other as Active within the start timeout: {views}.");
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        // WhenAny rather than WhenAll: a silo that crashes fails the start at once, even while
        // another is still starting (or hanging until the timeout).
        var pending = _silos.Select(s => s.Ready).ToList();
        var clock = Stopwatch.StartNew();
        try
        {
            while (pending.Count > 0)
            {
                var remaining = timeout - clock.Elapsed;
                if (remaining <= TimeSpan.Zero) throw new TimeoutException();
                var finished = await Task.WhenAny(pending).WaitAsync(remaining, ct).ConfigureAwait(false);
                await finished.ConfigureAwait(false);
                pending.Remove(finished);
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            var problems = _silos.Where(s => !s.Ready.IsCompletedSuccessfully).Select(s =>
            {
                string why = s.Ready.IsFaulted
                    ? s.Ready.Exception!.InnerException!.Message.TrimEnd('.')
                    : clock.Elapsed >= timeout
                        ? $"{s.Name} printed no READY line within {timeout.TotalSeconds:0} s"
                        : $"{s.Name} was not ready yet";
                return $"{why}; log {s.LogPath}, last lines:{Environment.NewLine}{s.Tail()}";
            });
            throw new GridStartException(
                $"The local grid did not start ({SiloDll}):{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        }
    }
}

/// <summary>A local grid could not be started; the message names the silos and quotes their logs.</summary>
internal sealed class GridStartException(string message) : Exception(message);
