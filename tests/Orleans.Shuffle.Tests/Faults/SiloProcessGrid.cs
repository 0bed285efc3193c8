using System.Diagnostics;
using System.Text;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>What a silo process announced on its "SILO READY name=.. identity=.. silo=.. gateway=.. data=.. http=.." line.</summary>
public sealed record SiloReady(string Name, string Identity, string Gateway, string Data, string Http)
{
    public static SiloReady? TryParse(string line)
    {
        if (!line.StartsWith(Silo.Hosting.SiloReadyLine.Prefix, StringComparison.Ordinal)) return null;
        var fields = line[Silo.Hosting.SiloReadyLine.Prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => t.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        return fields.TryGetValue("name", out string? name) && fields.TryGetValue("identity", out string? identity)
            ? new SiloReady(name, identity, fields.GetValueOrDefault("gateway", ""), fields.GetValueOrDefault("data", ""), fields.GetValueOrDefault("http", ""))
            : null;
    }
}

/// <summary>
/// Silo processes a test starts itself (rather than letting the job tool start them), so the test
/// controls their disks and their lives: one cluster id, one embedded store directory (or the
/// DynamoDB tables that <c>extraArgs</c> name), loopback, free ports. Each silo watches the test
/// process and stops if it dies. Disposing kills exactly these processes, through their own Process objects.
/// </summary>
public sealed class SiloProcessGrid : IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly List<(ChildProcess Process, SiloReady Ready)> _silos = [];

    private SiloProcessGrid(string clusterId) => ClusterId = clusterId;

    public string ClusterId { get; }

    public IReadOnlyList<SiloReady> Silos => _silos.Select(s => s.Ready).ToList();

    /// <summary>Orleans gateway endpoints, for the job's --grid.</summary>
    public string Gateways => string.Join(',', _silos.Select(s => s.Ready.Gateway));

    /// <param name="disks">One storage directory per silo.</param>
    /// <param name="membershipDirectory">The shared embedded stores (membership, grain state, reminders).</param>
    /// <param name="extraArgs">Appended to every silo's command line.</param>
    /// <param name="clusterId">The silos' cluster id; default a new one.</param>
    public static async Task<SiloProcessGrid> StartAsync(
        IReadOnlyList<string> disks, string membershipDirectory, IEnumerable<string> extraArgs, string? clusterId = null)
    {
        Assert.True(File.Exists(RepoPaths.SiloDll), $"{RepoPaths.SiloDll} is not built");
        var grid = new SiloProcessGrid(clusterId ?? "fault-" + Guid.NewGuid().ToString("N")[..8]);
        string[] extra = [.. extraArgs];
        const string TokenArg = "--Silo:OperatorToken=";
        grid._operatorToken = extra.LastOrDefault(a => a.StartsWith(TokenArg, StringComparison.Ordinal))?[TokenArg.Length..];
        // One secret for these silos, whatever their membership (with DynamoDB they share no directory of their own).
        if (!extra.Any(a => a.StartsWith("--Security:ClusterSecret", StringComparison.Ordinal) || a.StartsWith("--Security:RequireAuthentication", StringComparison.Ordinal)))
            extra = [.. extra, "--Security:ClusterSecretFile", WriteClusterSecret(membershipDirectory)];
        var started = new List<(ChildProcess Process, string Name)>();
        try
        {
            for (int i = 0; i < disks.Count; i++)
            {
                string name = $"s{i + 1}";
                started.Add((ChildProcess.Start(RepoPaths.DotnetExecutable(),
                [
                    RepoPaths.SiloDll,
                    "--cluster-id", grid.ClusterId,
                    "--name", name,
                    "--silo-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "--gateway-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "--data-port", "0",
                    "--http-port", "0",
                    "--disk", disks[i],
                    "--membership-dir", membershipDirectory,
                    "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    .. extra,
                ]), name));
            }
            // Started together, awaited one by one: the total wait is still about one start-up.
            foreach (var (process, name) in started)
            {
                grid._silos.Add((process, await WaitForReadyAsync(process, name)));
            }
            await grid.WaitForConvergenceAsync();
            return grid;
        }
        catch
        {
            foreach (var (process, _) in started) process.Dispose();
            throw;
        }
    }

    public string Output(int index, int lines = 40) => _silos[index].Process.Tail(lines);

    /// <summary>A new cluster secret in <paramref name="directory"/>/cluster.secret (a test's own directory).</summary>
    public static string WriteClusterSecret(string directory)
    {
        Orleans.Shuffle.Job.ClusterCertificate.CreatePrivateDirectory(directory);
        string path = Path.Combine(directory, "cluster.secret");
        if (File.Exists(path)) return path;
        // Readable by this user only: a silo refuses a secret others may read.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var writer = new StreamWriter(new FileStream(path, options));
        writer.Write(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        return path;
    }

    /// <summary>Silo:OperatorToken when the silos were given one: the grid's own /state reads carry it.</summary>
    private string? _operatorToken;

    /// <summary>An HTTP client for the silos' /state, with the operator token when they have one.</summary>
    public HttpClient StateClient()
    {
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        if (_operatorToken is not null) http.DefaultRequestHeaders.Authorization = new("Bearer", _operatorToken);
        return http;
    }

    /// <summary>Sends silo <paramref name="index"/> a signal (SIGTERM, SIGSTOP, SIGCONT), through its own pid.</summary>
    public void Signal(int index, int signal) => _silos[index].Process.Signal(signal);

    /// <summary>The exit code of silo <paramref name="index"/>, or null if it did not exit in time (then it is killed).</summary>
    public Task<int?> WaitForExitAsync(int index, TimeSpan timeout) => _silos[index].Process.WaitForExitAsync(timeout);

    /// <summary>
    /// The status silo <paramref name="observer"/>'s membership gives <paramref name="identity"/>, once it
    /// is not Active any more (polled, bounded by the ready timeout); "Active" if it stays so.
    /// </summary>
    public async Task<string> StatusSeenByAsync(int observer, string identity)
    {
        using var http = StateClient();
        string status = "Active";
        var clock = Stopwatch.StartNew();
        // Bounded by ReadyTimeout.
        while (clock.Elapsed < ReadyTimeout)
        {
            using var state = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://{_silos[observer].Ready.Http}/state"));
            var row = state.RootElement.GetProperty("membership").GetProperty("silos").EnumerateArray()
                .FirstOrDefault(s => s.GetProperty("identity").GetString() == identity);
            status = row.ValueKind == System.Text.Json.JsonValueKind.Object ? row.GetProperty("status").GetString() ?? "?" : "absent";
            if (status != "Active") return status;
            await Task.Delay(100);
        }
        return status;
    }

    /// <summary>Kills silo <paramref name="index"/> with SIGKILL through its own Process (no shutdown, no goodbye to the membership table), and waits until it is gone.</summary>
    public void Kill(int index) => _silos[index].Process.Kill();

    /// <summary>The operating system's id of silo <paramref name="index"/>'s process.</summary>
    public int ProcessId(int index) => _silos[index].Process.Id;

    public void Dispose()
    {
        foreach (var (process, _) in _silos) process.Dispose();
    }

    /// <summary>
    /// Waits until every silo's /state lists all silos of this grid as Active. READY means a silo has
    /// joined, not that the others have read its row yet; a shuffle registered before would be placed on
    /// fewer silos. Other rows may be Active too (silos of an earlier incarnation of the cluster that
    /// were killed and are not voted dead yet).
    /// </summary>
    private async Task WaitForConvergenceAsync()
    {
        using var http = StateClient();
        var clock = Stopwatch.StartNew();
        string views = "";
        // Bounded by ReadyTimeout.
        while (clock.Elapsed < ReadyTimeout)
        {
            var seen = new List<int>();
            var identities = _silos.Select(s => s.Ready.Identity).ToHashSet(StringComparer.Ordinal);
            foreach (var (_, ready) in _silos)
            {
                try
                {
                    using var state = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://{ready.Http}/state"));
                    seen.Add(state.RootElement.GetProperty("membership").GetProperty("silos").EnumerateArray()
                        .Count(s => s.GetProperty("status").GetString() == "Active" && identities.Contains(s.GetProperty("identity").GetString() ?? "")));
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or KeyNotFoundException)
                {
                    seen.Add(-1);
                }
            }
            if (seen.All(active => active == _silos.Count)) return;
            views = string.Join(", ", seen);
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException($"the silos did not all see {_silos.Count} active silos within {ReadyTimeout.TotalSeconds:0} s (they saw {views}).");
    }

    private static async Task<SiloReady> WaitForReadyAsync(ChildProcess process, string name)
    {
        var clock = Stopwatch.StartNew();
        // Bounded by ReadyTimeout.
        while (clock.Elapsed < ReadyTimeout)
        {
            foreach (string line in process.Output)
            {
                if (SiloReady.TryParse(line) is { } ready) return ready;
            }
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"silo {name} printed no SILO READY line within {ReadyTimeout.TotalSeconds:0} s:{Environment.NewLine}{process.Tail()}");
    }
}

/// <summary>
/// A tmpfs of a fixed size mounted on a directory of the test (Linux, root): a disk the test can
/// fill up while a silo writes to it. Dispose unmounts it (lazily if something still holds it).
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string directory) => Directory = directory;

    public string Directory { get; }

    public static TmpfsMount Mount(string directory, int sizeMiB, bool readOnly = false)
    {
        System.IO.Directory.CreateDirectory(directory);
        var (exit, output) = Run("mount", "-t", "tmpfs", "-o", $"{(readOnly ? "ro" : "rw")},size={sizeMiB}m", "tmpfs", directory);
        Assert.True(exit == 0,
            $"could not mount a tmpfs on {directory} (this test needs Linux and root, to make a disk fail under a running silo): {output}");
        return new TmpfsMount(directory);
    }

    /// <summary>Makes the mounted file system read-only, or writable again, under whoever uses it (mount -o remount).</summary>
    public void Remount(bool readOnly)
    {
        var (exit, output) = Run("mount", "-o", $"remount,{(readOnly ? "ro" : "rw")}", Directory);
        Assert.True(exit == 0, $"could not remount {Directory} {(readOnly ? "read-only" : "writable")}: {output}");
    }

    /// <summary>
    /// Fills the file system with a filler file until only <paramref name="leaveBytes"/> are free
    /// (0: to the last byte, so every later write gets ENOSPC); returns the bytes written.
    /// </summary>
    public long FillUp(long leaveBytes = 0)
    {
        long written = 0;
        var zeros = new byte[1 << 20];
        // Unbuffered: each Write is one write(2), so ENOSPC surfaces here and not at some later flush.
        using var filler = new FileStream(Path.Combine(Directory, "filler.bin"), FileMode.Create, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        int chunk = zeros.Length;
        // Bounded: the file system is finite, and the chunk halves down to one byte before giving up.
        while (chunk > 0)
        {
            long room = FreeBytes() - leaveBytes;
            if (room <= 0) break;
            if (room < chunk) chunk = (int)room;
            try
            {
                filler.Write(zeros, 0, chunk);
                written += chunk;
            }
            catch (IOException)
            {
                chunk /= 2;
            }
        }
        return written;
    }

    public long FreeBytes() => new DriveInfo(Directory).AvailableFreeSpace;

    public long UsedBytes()
    {
        var drive = new DriveInfo(Directory);
        return drive.TotalSize - drive.TotalFreeSpace;
    }

    public void Dispose()
    {
        if (Run("umount", Directory).Exit != 0) Run("umount", "-l", Directory);
    }

    private static (int Exit, string Output) Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(info)!;
            var output = new StringBuilder();
            output.Append(process.StandardOutput.ReadToEnd());
            output.Append(process.StandardError.ReadToEnd());
            if (!process.WaitForExit(30_000))
            {
                process.Kill();
                return (-1, $"{file} did not finish in 30 s");
            }
            return (process.ExitCode, output.ToString().Trim());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{file}: {e.Message}");
        }
    }
}
