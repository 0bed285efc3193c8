using System.Diagnostics;
using Amazon.DynamoDBv2.Model;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Membership.DynamoDB;
using Orleans.Shuffle.Tests.Faults;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Membership;

/// <summary>
/// Silo processes on DynamoDB membership (DynamoDB Local) and the main job against them: the job's
/// driver and workers find the silos in the table; a silo killed with SIGKILL is declared Dead in the
/// table; a full restart (every silo killed, new ones started on the same cluster id) forms a healthy
/// cluster by itself, votes the old rows Dead and cleans them up. The collection runs alone, one test at a time.
/// </summary>
[Collection(DynamoDbLocalCollection.Name)]
public sealed class DynamoDBClusterProcessTests(DynamoDbLocalFixture dynamo) : IAsyncLifetime
{
    private static readonly TimeSpan DeathTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _temp = new("oshuffle-dynamodb-cluster");
    private readonly string _tableName = DynamoDbLocalFixture.UniqueTableName();
    private readonly string _clusterId = "ddb-proc-" + Guid.NewGuid().ToString("N")[..8];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        using (var client = dynamo.CreateClient())
        {
            try
            {
                await client.DeleteTableAsync(new DeleteTableRequest { TableName = _tableName });
            }
            catch (ResourceNotFoundException)
            {
            }
        }
        _temp.Dispose();
    }

    private DynamoDBMembershipTable OpenTable() => new(dynamo.Options(_tableName), _clusterId);

    /// <summary>The membership flags of a silo on this test's table (the grain tables are the shared defaults, keyed by cluster id).</summary>
    private string[] SiloArgs(params string[] extra) =>
    [
        "--membership", "dynamodb",
        "--dynamodb-service", dynamo.ServiceUrl,
        "--Membership:DynamoDB:TableName=" + _tableName,
        "--Logging:LogLevel:Default=Warning",
        .. extra,
    ];

    /// <summary>The job's flags to run on this test's cluster, finding its silos in the table.</summary>
    private string[] JobArgs() =>
        ["--membership", "dynamodb", "--dynamodb-service", dynamo.ServiceUrl, "--dynamodb-table", _tableName, "--cluster-id", _clusterId];

    private Task<SiloProcessGrid> StartGridAsync(string generation, string[] siloArgs) =>
        SiloProcessGrid.StartAsync(
            [_temp.Combine(generation, "s1"), _temp.Combine(generation, "s2"), _temp.Combine(generation, "s3")],
            _temp.Combine(generation, "membership.json"), siloArgs, _clusterId);

    private static void AssertVerified(FaultJobResult run, int silos)
    {
        Assert.True(run.ExitCode == 0 && run.Verified, "the job did not verify." + Environment.NewLine + run.Describe());
        Assert.Equal(run.Number("partitions"), run.Number("partitionsVerified"));
        Assert.Equal(silos, run.Number("silos"));
        Assert.Equal("dynamodb", run.Report!.Value.GetProperty("membership").GetString());
    }

    /// <summary>Reads the table every 100 ms until <paramref name="done"/> holds for its rows, for at most <paramref name="timeout"/>.</summary>
    private static async Task<IReadOnlyList<MembershipRow>> PollAsync(
        DynamoDBMembershipTable table, Func<IReadOnlyList<MembershipRow>, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        // Bounded by the timeout.
        while (true)
        {
            var rows = (await table.ReadAll()).Members;
            if (done(rows)) return rows;
            if (clock.Elapsed > timeout)
            {
                throw new Xunit.Sdk.XunitException($"{what} within {timeout.TotalSeconds:0} s. Rows:{Environment.NewLine}" +
                    string.Join(Environment.NewLine, rows.Select(r => $"  {r.Entry} votes={r.Entry.SuspectTimes.Count}")));
            }
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task The_main_job_runs_on_three_silo_processes_on_DynamoDB_and_a_killed_silo_is_declared_Dead()
    {
        using var table = OpenTable();
        using var grid = await StartGridAsync("g1", SiloArgs());
        var identities = grid.Silos.Select(s => s.Identity).Order().ToList();
        var active = (await table.ReadAll()).Members.Where(m => m.Entry.Status == SiloStatus.Active).Select(m => m.Entry.SiloAddress.Identity).Order();
        Assert.Equal(identities, active);

        using (var temp = new TempDirectory("oshuffle-dynamodb-job"))
        {
            AssertVerified(await FaultJob.RunAsync(temp, [.. JobArgs(), .. FaultJob.SmallJob()]), silos: 3);
        }

        // kill -9: no goodbye to the table; the others must notice (probes, then IAmAlive staleness) and vote it Dead.
        string victim = grid.Silos[2].Identity;
        var clock = Stopwatch.StartNew();
        grid.Kill(2);
        var rows = await PollAsync(table, rows => rows.Any(r => r.Entry.SiloAddress.Identity == victim && r.Entry.Status == SiloStatus.Dead),
            DeathTimeout, $"the killed silo {victim} was not declared Dead");
        var dead = rows.Single(r => r.Entry.SiloAddress.Identity == victim).Entry;
        Assert.NotEmpty(dead.SuspectTimes);
        Assert.All(dead.SuspectTimes, vote => Assert.Contains(vote.VoterIdentity, identities));
        Assert.Equal(2, rows.Count(r => r.Entry.Status == SiloStatus.Active));
        Console.WriteLine($"kill -9 -> Dead in the table: {clock.Elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public async Task A_full_restart_forms_a_healthy_cluster_and_the_old_rows_are_voted_Dead_then_cleaned_up()
    {
        // Fast membership, so staleness, votes and clean-up happen within seconds.
        string[] fast = SiloArgs(
            "--Membership:IAmAlivePeriod=00:00:01",
            "--Membership:NumMissedTableIAmAliveLimit=2",
            "--Membership:TableRefreshPeriod=00:00:01",
            "--Membership:DefunctSiloExpiration=00:00:03",
            "--Membership:DefunctSiloCleanupPeriod=00:00:02");
        using var table = OpenTable();

        List<string> old;
        using (var first = await StartGridAsync("g1", fast))
        {
            old = first.Silos.Select(s => s.Identity).ToList();
            for (int i = 0; i < 3; i++) first.Kill(i);
        }
        // Every silo is gone without a word: their rows still say Active.
        Assert.All((await table.ReadAll()).Members.Where(m => old.Contains(m.Entry.SiloAddress.Identity)),
            m => Assert.Equal(SiloStatus.Active, m.Entry.Status));

        // New silos, new generations, same cluster id, no clean-up by hand: they join and become Active.
        using var second = await StartGridAsync("g2", fast);
        var fresh = second.Silos.Select(s => s.Identity).ToList();
        Assert.Empty(fresh.Intersect(old));

        // The old rows are voted Dead by the new silos (only they can: the old ones are gone), then cleaned
        // up: clean-up deletes only rows that are not Active, so a row gone without being seen Dead was voted too.
        var seenDead = new HashSet<string>();
        var rows = await PollAsync(table, rows =>
        {
            foreach (var row in rows.Where(r => old.Contains(r.Entry.SiloAddress.Identity)))
            {
                Assert.NotEqual(SiloStatus.ShuttingDown, row.Entry.Status);
                if (row.Entry.Status == SiloStatus.Dead)
                {
                    Assert.All(row.Entry.SuspectTimes, vote => Assert.Contains(vote.VoterIdentity, fresh));
                    seenDead.Add(row.Entry.SiloAddress.Identity);
                }
            }
            return !rows.Any(r => old.Contains(r.Entry.SiloAddress.Identity));
        }, DeathTimeout, "the old rows were not voted Dead and cleaned up");
        Assert.Equal(fresh.Order(), rows.Where(r => r.Entry.Status == SiloStatus.Active).Select(r => r.Entry.SiloAddress.Identity).Order());
        Console.WriteLine($"old rows seen Dead before their clean-up: {seenDead.Count} of {old.Count}");

        using var temp = new TempDirectory("oshuffle-dynamodb-job");
        AssertVerified(await FaultJob.RunAsync(temp, [.. JobArgs(), .. FaultJob.SmallJob("8MiB")]), silos: 3);
    }

    [Fact]
    public async Task The_job_tool_starts_a_local_grid_on_DynamoDB_and_removes_its_rows_afterwards()
    {
        using var temp = new TempDirectory("oshuffle-dynamodb-job");
        var run = await FaultJob.RunAsync(temp,
            ["--silos", "3", "--membership", "dynamodb", "--dynamodb-service", dynamo.ServiceUrl, "--dynamodb-table", _tableName, .. FaultJob.SmallJob("8MiB")]);
        AssertVerified(run, silos: 3);
        string? clusterId = run.Report!.Value.GetProperty("clusterId").GetString();
        Assert.False(string.IsNullOrEmpty(clusterId), run.Describe());
        using var table = new DynamoDBMembershipTable(dynamo.Options(_tableName), clusterId!);
        Assert.Empty((await table.ReadAll()).Members);
    }
}
