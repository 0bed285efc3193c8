using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Testing;

/// <summary>
/// AWS's DynamoDB Local, in memory, as a child process on a free loopback port for the tests of one
/// collection (<see cref="DynamoDbLocalCollection"/>). The emulator's directory comes from
/// DYNAMODB_LOCAL_DIR (scripts/test.sh sets it), or scripts/install-dynamodb-local.sh is run to get it.
/// Disposing kills exactly the process it started.
/// </summary>
public sealed class DynamoDbLocalFixture : IAsyncLifetime
{
    public const string DirectoryVariable = "DYNAMODB_LOCAL_DIR";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);
    private const int MaxStartAttempts = 3;

    private readonly ConcurrentQueue<string> _output = new();
    private readonly TempDirectory _workingDirectory = new("oshuffle-dynamodb-local");
    private Process? _process;

    public int Port { get; private set; }

    /// <summary>The endpoint, as a provider's Service option takes it.</summary>
    public string ServiceUrl => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Points <paramref name="options"/> at this emulator (and at <paramref name="tableName"/> when given); returns them.</summary>
    public TOptions Configure<TOptions>(TOptions options, string? tableName = null) where TOptions : DynamoDBClientOptions
    {
        options.Service = ServiceUrl;
        if (tableName is not null) options.TableName = tableName;
        return options;
    }

    /// <summary>New options of a provider for this emulator and <paramref name="tableName"/>.</summary>
    public TOptions Options<TOptions>(string tableName) where TOptions : DynamoDBClientOptions, new() => Configure(new TOptions(), tableName);

    /// <summary>A raw client of this emulator, for looking at and changing items directly.</summary>
    public AmazonDynamoDBClient CreateClient() => Configure(new RawClientOptions()).CreateClient();

    /// <summary>A table name no other test uses.</summary>
    public static string UniqueTableName(string prefix = "table") => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>The URL of a loopback port that was free a moment ago and is closed again: nothing answers there.</summary>
    public static string UnusedLoopbackUrl() => $"http://127.0.0.1:{LoopbackPort.Free().ToString(CultureInfo.InvariantCulture)}";

    public async Task InitializeAsync()
    {
        string directory = Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured ? configured : await InstallAsync();
        string jar = Path.Combine(directory, "DynamoDBLocal.jar");
        if (!File.Exists(jar))
            throw new InvalidOperationException($"No DynamoDBLocal.jar in {directory} ({DirectoryVariable}); run scripts/install-dynamodb-local.sh.");

        // Bounded: a port taken between choosing it and the emulator binding it costs one more attempt.
        for (int attempt = 1; ; attempt++)
        {
            Port = LoopbackPort.Free();
            Start(directory, jar);
            if (await WaitUntilAnsweringAsync()) return;
            StopProcess();
            if (attempt == MaxStartAttempts)
                throw new InvalidOperationException($"DynamoDB Local did not answer on port {Port} within {StartTimeout.TotalSeconds:0} s. Output:{Environment.NewLine}{Tail()}");
        }
    }

    public Task DisposeAsync()
    {
        StopProcess();
        _workingDirectory.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The emulator's last lines of output, for failure messages.</summary>
    public string Tail(int lines = 40) => string.Join(Environment.NewLine, _output.TakeLast(lines));

    private void Start(string directory, string jar)
    {
        var info = new ProcessStartInfo("java")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            // It writes dynamodb-local-metadata.json into its working directory.
            WorkingDirectory = _workingDirectory.Path,
        };
        // Telemetry off twice: -disableTelemetry alone still makes it look up an AWS (Cognito) host at start.
        info.Environment["DDB_LOCAL_TELEMETRY"] = "0";
        foreach (string argument in new[]
        {
            "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
            "-Djava.library.path=" + Path.Combine(directory, "DynamoDBLocal_lib"),
            "-jar", jar,
            "-inMemory", "-sharedDb", "-disableTelemetry", "-port", Port.ToString(CultureInfo.InvariantCulture),
        })
        {
            info.ArgumentList.Add(argument);
        }
        _process = StartCollecting(info, _output);
    }

    private async Task<bool> WaitUntilAnsweringAsync()
    {
        var options = Configure(new RawClientOptions { MaxErrorRetry = 0, RequestTimeout = TimeSpan.FromSeconds(2) });
        using var client = options.CreateClient();
        var deadline = DateTime.UtcNow + StartTimeout;
        // Bounded by the deadline.
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited) return false;
            try
            {
                await client.ListTablesAsync(new ListTablesRequest { Limit = 1 });
                return true;
            }
            catch (Exception e) when (DynamoDBStartupErrors.IsAwsOrNetworkFailure(e))
            {
                await Task.Delay(100);
            }
        }
        return false;
    }

    private void StopProcess()
    {
        var process = _process;
        _process = null;
        if (process is null) return;
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: false);
            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
        process.Dispose();
    }

    private static Process StartCollecting(ProcessStartInfo info, ConcurrentQueue<string> output)
    {
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue("stderr: " + e.Data); };
        if (!process.Start()) throw new InvalidOperationException($"Could not start {info.FileName}.");
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs scripts/install-dynamodb-local.sh of the repository this assembly was built in and takes the directory it prints last.</summary>
    private static async Task<string> InstallAsync()
    {
        string root = RepositoryRoot();
        string script = Path.Combine(root, "scripts", "install-dynamodb-local.sh");
        var info = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = root };
        info.ArgumentList.Add(script);
        var output = new ConcurrentQueue<string>();
        using var install = StartCollecting(info, output);
        try
        {
            await install.WaitForExitAsync().WaitAsync(InstallTimeout);
            install.WaitForExit(); // flushes the redirected output
        }
        catch (TimeoutException)
        {
            install.Kill(entireProcessTree: true);
        }
        var lines = output.Where(l => !l.StartsWith("stderr: ", StringComparison.Ordinal)).ToList();
        if (!install.HasExited || install.ExitCode != 0 || lines.Count == 0)
            throw new InvalidOperationException($"{script} failed:{Environment.NewLine}{string.Join(Environment.NewLine, output.TakeLast(40))}");
        return lines[^1].Trim();
    }

    private static string RepositoryRoot()
    {
        // Bounded by the depth of the directory tree.
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "scripts", "install-dynamodb-local.sh"))) return directory.FullName;
        }
        throw new InvalidOperationException($"No directory above {AppContext.BaseDirectory} holds scripts/install-dynamodb-local.sh; set {DirectoryVariable}.");
    }

    /// <summary>Options only for making a raw client: no table of their own.</summary>
    private sealed class RawClientOptions : DynamoDBClientOptions
    {
        public override string TableName { get; set; } = "unused";
    }
}
