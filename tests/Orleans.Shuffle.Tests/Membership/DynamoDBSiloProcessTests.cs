using System.Diagnostics;
using Amazon.DynamoDBv2.Model;
using Orleans.Runtime;
using Orleans.Shuffle.Clustering.DynamoDB;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Faults;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>
/// Silo processes on the DynamoDB providers (DynamoDB Local), and the main job against them: the job's
/// driver and executors find the gateways in the table; a silo killed with SIGKILL is voted Dead in
/// the table by Orleans' membership protocol; a full restart (every silo killed, new ones started on
/// the same cluster id) forms a healthy cluster by itself and votes the old rows Dead; the ShuffleGrain's
/// state lands in the grain-state table. The collection runs alone, one test at a time.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBSiloProcessTests(DynamoDbLocalFixture dynamo) : IAsyncLifetime
{
    private static readonly TimeSpan DeathTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _temp = new("oshuffle-dynamodb-cluster");
    private readonly string _silosTable = DynamoDbLocalFixture.UniqueTableName("silos");
    private readonly string _clusterId = "ddb-proc-" + Guid.NewGuid().ToString("N")[..8];
    private readonly Amazon.DynamoDBv2.AmazonDynamoDBClient _client = dynamo.CreateClient();

    // DynamoDB silos require TLS: the grids here have a certificate, which the jobs pin.
    private (string Pfx, string Cer)? _tls;

    private (string Pfx, string Cer) Tls => _tls ??= Orleans.Shuffle.Job.ClusterCertificate.Create(_temp.Combine("tls"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            await _client.DeleteTableAsync(new DeleteTableRequest { TableName = _silosTable });
        }
        catch (ResourceNotFoundException)
        {
        }
        _client.Dispose();
        _temp.Dispose();
    }

    private DynamoDBMembershipTable OpenTable(string? clusterId = null) =>
        new(_client, dynamo.Options<DynamoDBClusteringOptions>(_silosTable), clusterId ?? _clusterId);

    /// <summary>
    /// A silo's flags for this test's membership table. The grain-state and reminder tables are the shared
    /// defaults: their rows are keyed by the service id, which is this test's own cluster id.
    /// </summary>
    private string[] SiloArgs(params string[] extra) =>
    [
        "--membership", "dynamodb",
        "--dynamodb-service", dynamo.ServiceUrl,
        "--Membership:DynamoDB:SilosTableName=" + _silosTable,
        "--Logging:LogLevel:Default=Warning",
        "--Security:TlsCertificateFile", Tls.Pfx,
        .. extra,
    ];

    /// <summary>The job's flags to run on this test's cluster, finding its silos in the table.</summary>
    private string[] JobArgs() =>
        ["--membership", "dynamodb", "--dynamodb-service", dynamo.ServiceUrl, "--dynamodb-table", _silosTable, "--cluster-id", _clusterId, "--tls-certificate", Tls.Cer];

    private Task<SiloProcessGrid> StartGridAsync(string generation, string[] siloArgs) =>
        SiloProcessGrid.StartAsync(
            [_temp.Combine(generation, "s1"), _temp.Combine(generation, "s2"), _temp.Combine(generation, "s3")],
            _temp.Combine(generation, "unused-membership"), siloArgs, _clusterId);

    private static void AssertVerified(FaultJobResult run, int silos)
    {
        Assert.True(run.ExitCode == 0 && run.Verified, "the job did not verify." + Environment.NewLine + run.Describe());
        Assert.Equal(run.Number("partitions"), run.Number("partitionsVerified"));
        Assert.Equal(silos, run.Number("silos"));
        Assert.Equal("dynamodb", run.Report!.Value.GetProperty("membership").GetString());
    }

    /// <summary>Reads the table every 200 ms until <paramref name="done"/> holds for its rows, for at most <paramref name="timeout"/>.</summary>
    private static async Task<IReadOnlyList<MembershipEntry>> PollAsync(
        DynamoDBMembershipTable table, Func<IReadOnlyList<MembershipEntry>, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        // Bounded by the timeout.
        while (true)
        {
            var rows = (await table.ReadAllAsync()).Members.Select(m => m.Item1).ToList();
            if (done(rows)) return rows;
            if (clock.Elapsed > timeout)
            {
                throw new Xunit.Sdk.XunitException($"{what} within {timeout.TotalSeconds:0} s. Rows:{Environment.NewLine}" +
                    string.Join(Environment.NewLine, rows.Select(r => $"  {r.SiloAddress} {r.Status} votes={r.SuspectTimes?.Count ?? 0}")));
            }
            await Task.Delay(200);
        }
    }

    private static string Identity(MembershipEntry entry) => entry.SiloAddress.ToParsableString();

    [Fact]
    public async Task A_silo_process_with_an_unreachable_DynamoDB_exits_3_naming_the_endpoint()
    {
        Assert.True(File.Exists(RepoPaths.SiloDll), $"{RepoPaths.SiloDll} is not built");
        string url = DynamoDbLocalFixture.UnusedLoopbackUrl();
        using var silo = ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.SiloDll, "--cluster-id", _clusterId, "--name", "s1", "--data-port", "0", "--http-port", "0",
            "--silo-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--disk", _temp.Combine("s1"),
            "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--membership", "dynamodb", "--dynamodb-service", url,
            "--Security:ClusterSecretFile", SiloProcessGrid.WriteClusterSecret(_temp.Combine("secret")),
            "--Security:TlsCertificateFile", Tls.Pfx,
        ]);
        int? exit = await silo.WaitForExitAsync(TimeSpan.FromSeconds(120));
        Assert.True(exit == 3, $"exit {exit?.ToString() ?? "timeout"}; output:{Environment.NewLine}{silo.Tail()}");
        Assert.Contains(silo.Output, line => line.Contains("The silo could not start: Could not reach DynamoDB at " + url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_main_job_runs_on_three_DynamoDB_silos_and_a_killed_silo_is_voted_Dead_in_the_table()
    {
        using var table = OpenTable();
        using var grid = await StartGridAsync("g1", SiloArgs());
        var identities = grid.Silos.Select(s => s.Identity).Order().ToList();
        var active = (await table.ReadAllAsync()).Members.Select(m => m.Item1).Where(e => e.Status == SiloStatus.Active).Select(Identity).Order();
        Assert.Equal(identities, active);

        using (var temp = new TempDirectory("oshuffle-dynamodb-job"))
        {
            AssertVerified(await FaultJob.RunAsync(temp, [.. JobArgs(), .. FaultJob.SmallJob()]), silos: 3);
        }

        // The ShuffleGrain kept its state in the grain-state table, under this cluster's service id.
        var scan = await _client.ScanAsync(new ScanRequest { TableName = "OrleansGrainState" });
        Assert.Contains(scan.Items, item => item["GrainReference"].S.StartsWith(_clusterId + "_", StringComparison.Ordinal));

        // kill -9: no goodbye to the table; the others must notice (missed probes) and vote it Dead.
        string victim = grid.Silos[2].Identity;
        var clock = Stopwatch.StartNew();
        grid.Kill(2);
        var rows = await PollAsync(table, rows => rows.Any(r => Identity(r) == victim && r.Status == SiloStatus.Dead),
            DeathTimeout, $"the killed silo {victim} was not declared Dead");
        var dead = rows.Single(r => Identity(r) == victim);
        var votes = dead.SuspectTimes ?? [];
        Assert.NotEmpty(votes);
        Assert.All(votes, vote => Assert.Contains(vote.Item1.ToParsableString(), identities));
        Assert.Equal(2, rows.Count(r => r.Status == SiloStatus.Active));
        Console.WriteLine($"kill -9 -> Dead in the DynamoDB table: {clock.Elapsed.TotalSeconds:0.00} s, {votes.Count} votes");
    }

    [Fact]
    public async Task A_full_restart_forms_a_healthy_cluster_and_the_old_rows_are_voted_Dead()
    {
        // A joining silo waits until it can reach every Active row. Orleans probes a dead row's silo only
        // once the row is stale (no IAmAlive for IAmAliveTablePublishTimeout x NumMissedTableIAmAliveLimit,
        // 30 s x 3 by default), then votes it Dead. Stale after 6 s here, so the restart takes seconds, not minutes.
        string[] fast = SiloArgs("--Membership:IAmAliveTablePublishTimeout=00:00:03", "--Membership:NumMissedTableIAmAliveLimit=2");
        using var table = OpenTable();
        List<string> old;
        using (var first = await StartGridAsync("g1", fast))
        {
            old = first.Silos.Select(s => s.Identity).ToList();
            for (int i = 0; i < 3; i++) first.Kill(i);
        }
        // Every silo is gone without a word: their rows still say Active.
        Assert.All((await table.ReadAllAsync()).Members.Select(m => m.Item1).Where(e => old.Contains(Identity(e))),
            e => Assert.Equal(SiloStatus.Active, e.Status));

        // New silos, same cluster id, nothing cleaned by hand: they probe the stale rows, vote them Dead,
        // then join and become Active.
        var restart = Stopwatch.StartNew();
        using var second = await StartGridAsync("g2", fast);
        Console.WriteLine($"full restart -> 3 new silos Active: {restart.Elapsed.TotalSeconds:0.0} s");
        var fresh = second.Silos.Select(s => s.Identity).ToList();
        Assert.Empty(fresh.Intersect(old));

        var rows = await PollAsync(table, rows => old.All(o => rows.Any(r => Identity(r) == o && r.Status == SiloStatus.Dead)),
            DeathTimeout, "the old rows were not all voted Dead");
        Assert.All(rows.Where(r => old.Contains(Identity(r))), row =>
            Assert.All(row.SuspectTimes ?? [], vote => Assert.Contains(vote.Item1.ToParsableString(), fresh)));
        Assert.Equal(fresh.Order(), rows.Where(r => r.Status == SiloStatus.Active).Select(Identity).Order());

        using var temp = new TempDirectory("oshuffle-dynamodb-job");
        AssertVerified(await FaultJob.RunAsync(temp, [.. JobArgs(), .. FaultJob.SmallJob("8MiB")]), silos: 3);
    }

    [Fact]
    public async Task The_job_tool_starts_a_local_grid_on_DynamoDB_and_removes_its_rows_afterwards()
    {
        using var temp = new TempDirectory("oshuffle-dynamodb-job");
        var run = await FaultJob.RunAsync(temp,
            ["--silos", "3", "--membership", "dynamodb", "--dynamodb-service", dynamo.ServiceUrl, "--dynamodb-table", _silosTable, .. FaultJob.SmallJob("8MiB")]);
        AssertVerified(run, silos: 3);
        string? clusterId = run.Report!.Value.GetProperty("clusterId").GetString();
        Assert.False(string.IsNullOrEmpty(clusterId), run.Describe());
        using var table = OpenTable(clusterId);
        Assert.Empty((await table.ReadAllAsync()).Members);
    }
}
