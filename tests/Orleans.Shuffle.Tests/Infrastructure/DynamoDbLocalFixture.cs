using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.Membership.DynamoDB;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Tests against DynamoDB Local share one emulator process and run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DynamoDbLocalCollection : ICollectionFixture<DynamoDbLocalFixture>
{
    public const string Name = "DynamoDB Local";
}

/// <summary>
/// AWS's DynamoDB Local, in memory, as a child process on a free loopback port for the tests of one
/// collection. The emulator's directory comes from DYNAMODB_LOCAL_DIR (scripts/test.sh sets it), or
/// scripts/install-dynamodb-local.sh is run to get it. Disposing kills exactly the process it started.
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

    /// <summary>The endpoint, as a silo's Membership:DynamoDB:Service takes it.</summary>
    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    /// <summary>Options for this emulator and <paramref name="tableName"/>.</summary>
    public DynamoDBClusteringOptions Options(string tableName) => new() { Service = ServiceUrl, TableName = tableName };

    /// <summary>A raw client of this emulator, for looking at items directly.</summary>
    public AmazonDynamoDBClient CreateClient() => Options(DynamoDBClusteringOptions.DefaultTableName).CreateClient();

    /// <summary>A table name no other test uses.</summary>
    public static string UniqueTableName(string prefix = "silos") => $"{prefix}-{Guid.NewGuid():N}";

    public async Task InitializeAsync()
    {
        string directory = Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured ? configured : await InstallAsync();
        string jar = Path.Combine(directory, "DynamoDBLocal.jar");
        if (!File.Exists(jar))
            throw new InvalidOperationException($"No DynamoDBLocal.jar in {directory} ({DirectoryVariable}); run scripts/install-dynamodb-local.sh.");

        // Bounded: a port taken between choosing it and the emulator binding it costs one more attempt.
        for (int attempt = 1; ; attempt++)
        {
            Port = FreeLoopbackPort();
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
            "-inMemory", "-sharedDb", "-disableTelemetry", "-port", Port.ToString(),
        })
        {
            info.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue("stderr: " + e.Data); };
        if (!process.Start()) throw new InvalidOperationException("Could not start java for DynamoDB Local.");
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    private async Task<bool> WaitUntilAnsweringAsync()
    {
        var options = Options(DynamoDBClusteringOptions.DefaultTableName);
        options.MaxErrorRetry = 0;
        options.RequestTimeout = TimeSpan.FromSeconds(2);
        using var client = options.CreateClient();
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited) return false;
            try
            {
                await client.ListTablesAsync(new ListTablesRequest { Limit = 1 });
                return true;
            }
            catch (Exception e) when (e is Amazon.Runtime.AmazonClientException or Amazon.Runtime.AmazonServiceException or HttpRequestException or IOException or TaskCanceledException)
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

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs scripts/install-dynamodb-local.sh and takes the directory it prints last.</summary>
    private static async Task<string> InstallAsync()
    {
        string script = Path.Combine(RepoPaths.Root, "scripts", "install-dynamodb-local.sh");
        using var install = ChildProcess.Start("bash", [script], workingDirectory: RepoPaths.Root);
        int? exit = await install.WaitForExitAsync(InstallTimeout);
        var lines = install.Output.Where(l => !l.StartsWith("stderr: ", StringComparison.Ordinal)).ToList();
        if (exit != 0 || lines.Count == 0)
            throw new InvalidOperationException($"{script} failed (exit {exit?.ToString() ?? "timeout"}):{Environment.NewLine}{install.Tail()}");
        return lines[^1].Trim();
    }
}
