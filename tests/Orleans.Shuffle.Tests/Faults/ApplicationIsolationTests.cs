using System.Text.Json;
using Xunit.Abstractions;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Job;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// Application B attacks application A while A's job runs, on three silo processes: B knows A's
/// application id and, from the silos' /state, where A's partition copies are, but not A's secret
/// nor the cluster's. Every control call B makes on A's ShuffleGrain or A's PartitionGrains, and
/// every push, replication and fetch of A's data B sends to A's silo, before and after proving its
/// own application, is refused with Unauthorized; forged tokens and proofs are refused too. A's job
/// verifies every record (the batch B pushed, valid for map 0 attempt 0, would have made a reducer
/// read one record more), and the silos logged the refusals.
/// </summary>
[Collection(SiloCollection.Name)]
public class ApplicationIsolationTests(ITestOutputHelper output)
{
    private const string Victim = "victim-app";
    private const string Attacker = "attacker-app";

    [Fact]
    public async Task An_application_attacking_a_running_job_is_refused_every_operation_and_the_job_verifies()
    {
        using var temp = new TempDirectory("oshuffle-isolation");
        string[] disks = [temp.Combine("s1"), temp.Combine("s2"), temp.Combine("s3")];
        using var grid = await SiloProcessGrid.StartAsync(disks, temp.Combine("membership"), []);
        string report = temp.Combine("report.json");
        using var job = ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.JobDll, "--grid", grid.Gateways, "--cluster-id", grid.ClusterId, "--app-id", Victim, "--replicas", "2",
            // A map stage of several seconds: the attack below runs while every copy still takes pushes.
            "--maps", "4", "--reduces", "4", "--data", "512MiB", "--no-progress", "--task-timeout", "150",
            "--report", report, "--work-dir", temp.Combine("work"),
        ], workingDirectory: temp.Path);

        var (silo, target) = await FindUncommittedPrimaryAsync(grid, job);
        output.WriteLine($"attacking {Victim}/{target.ShuffleId}/{target.PartitionId}-{target.Epoch} on {silo.Name} ({silo.Data})");

        await using var attacker = await new GridAccess(grid.ClusterId, null, null, grid.Gateways.Split(',')).ConnectAsync("attacker", CancellationToken.None);
        var refused = new List<string>();
        var accepted = new List<string>();
        async Task Expect(string what, Func<Task> call)
        {
            try
            {
                await call().WaitAsync(TimeSpan.FromSeconds(60));
                accepted.Add($"{what}: accepted");
            }
            catch (GridException e) when (e.Code == GridErrorCode.Unauthorized)
            {
                refused.Add(what);
            }
            catch (Exception e)
            {
                accepted.Add($"{what}: {e.GetType().Name} {(e as GridException)?.Code} {e.Message}");
            }
        }

        // Control plane, through B's own Orleans client: A's ShuffleGrain without A's secret.
        var shuffleGrain = attacker.Cluster.GetGrain<IShuffleGrain>(Victim);
        await Expect("RegisterApplication of A with another secret", () => shuffleGrain.RegisterApplication(ApplicationSecret.Create()));
        await Expect("RegisterShuffle", () => shuffleGrain.RegisterShuffle(7, new ShuffleSpec(1, 1)));
        await Expect("GetShuffleLocations", () => shuffleGrain.GetShuffleLocations(target.ShuffleId));
        await Expect("Revive", () => shuffleGrain.Revive(target.ShuffleId, [new PartitionRef(target.PartitionId, target.Epoch)], []));
        await Expect("MapperEnd", () => shuffleGrain.MapperEnd(target.ShuffleId, 0, 7));
        await Expect("GetReducerFileGroup", () => shuffleGrain.GetReducerFileGroup(target.ShuffleId, TimeSpan.FromSeconds(1)));
        await Expect("Describe", () => shuffleGrain.Describe());
        await Expect("Heartbeat", () => shuffleGrain.Heartbeat());
        await Expect("UnregisterShuffle", () => shuffleGrain.UnregisterShuffle(target.ShuffleId));
        await Expect("UnregisterApplication", () => shuffleGrain.UnregisterApplication());
        await Expect("UnregisterApplication with a token of a guessed secret", () => WithToken(GridAuthentication.ControlTokenKey,
            GridAuthentication.ControlToken(ApplicationSecret.Create(), Victim, DateTimeOffset.UtcNow), () => shuffleGrain.UnregisterApplication()));
        // A's partition copies: for member silos only.
        var copy = attacker.Cluster.GetGrain<IPartitionGrain>($"{Victim}/{target.ShuffleId}/{target.PartitionId}/{target.Epoch}/0");
        await Expect("PartitionGrain.Destroy", () => copy.Destroy());
        await Expect("PartitionGrain.Commit", () => copy.Commit());
        await Expect("PartitionGrain.Reserve", () => copy.Reserve(null, null));
        await Expect("PartitionGrain.Destroy with a forged member token", () => WithToken(GridAuthentication.MemberTokenKey,
            GridAuthentication.MemberToken(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), DateTimeOffset.UtcNow), () => copy.Destroy()));

        // Data plane: B registers its own application, so it holds a key that A's silo knows.
        var secretB = await attacker.Client.RegisterApplicationAsync(Attacker);
        await attacker.Client.RegisterShuffleAsync(Attacker, 0, new ShuffleSpec(1, 12));
        var endpoint = Endpoint(silo);
        var evil = RawGridSocket.PushBody(Victim, target.ShuffleId, target.PartitionId, target.Epoch, TestBatches.Make(0, 0, 999_999, TestBatches.FrameRecords(["evil"])));
        var fetch = Wire.MessageSamples.BodyOf(new FetchChunk(Victim, target.ShuffleId, target.PartitionId, target.Epoch, 0, 0, int.MaxValue));
        var (raw, ok) = await RawGridSocket.ConnectAndHelloAsync(endpoint);
        await using (raw)
        {
            Assert.Equal(GridAuthentication.ChallengeBytes, ok.Challenge.Length);
            ulong id = 10;
            async Task ExpectRaw(string what, MessageType type, byte[] body)
            {
                await raw.SendRawFrameAsync(type, body, ++id);
                var (header, error) = await raw.ReceiveErrorAsync();
                Assert.Equal((type, id), (header.Type, header.RequestId));
                (error.Code == GridErrorCode.Unauthorized ? refused : accepted).Add(error.Code == GridErrorCode.Unauthorized ? what : $"{what}: {error.Code} {error.Message}");
            }
            await ExpectRaw("PushData of A, no proof", MessageType.PushData, evil);
            await ExpectRaw("ReplicateData of A, no proof", MessageType.ReplicateData, evil);
            await ExpectRaw("FetchChunk of A, no proof", MessageType.FetchChunk, fetch);
            await raw.AuthenticateAsync(DataPlaneCredential.ForApplication(Attacker, secretB), ok);
            await ExpectRaw("PushData of A, as B", MessageType.PushData, evil);
            await ExpectRaw("ReplicateData of A, as B", MessageType.ReplicateData, evil);
            await ExpectRaw("FetchChunk of A, as B", MessageType.FetchChunk, fetch);
        }
        await ExpectProofRefusedAsync("Authenticate as A with a guessed secret", endpoint, DataPlaneCredential.ForApplication(Victim, ApplicationSecret.Create()), refused, accepted);
        await ExpectProofRefusedAsync("Authenticate as a silo with a guessed cluster secret", endpoint,
            DataPlaneCredential.ForSilo("evil-silo", System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), refused, accepted);

        // The attack ran while A's job still pushed to the copy it aimed at.
        bool stillOpen = await CopyStateAsync(grid, silo, target) is { Committed: false };
        output.WriteLine($"refused ({refused.Count}): {string.Join("; ", refused)}");
        Assert.True(accepted.Count == 0, "operations of the attacker were not refused: " + string.Join("; ", accepted));
        Assert.Equal(23, refused.Count);
        Assert.True(stillOpen, "A's partition copy was committed (or gone) before the attack ended: the attack did not run mid-job");

        int? exit = await job.WaitForExitAsync(FaultJob.Timeout);
        string describe = $"exit {exit?.ToString() ?? "none"}{Environment.NewLine}{job.Tail(40)}{Environment.NewLine}" + FaultJob.LogTails(temp.Combine("work", "logs"));
        Assert.True(exit == 0, "A's job did not verify: " + describe);
        using (var json = JsonDocument.Parse(await File.ReadAllTextAsync(report)))
        {
            Assert.True(json.RootElement.GetProperty("verified").GetBoolean(), describe);
            Assert.Equal(json.RootElement.GetProperty("partitions").GetInt32(), json.RootElement.GetProperty("partitionsVerified").GetInt32());
        }
        // Each refusal is logged by the silo that refused it.
        string logs = string.Join(Environment.NewLine, Enumerable.Range(0, 3).Select(i => grid.Output(i, 5000)));
        Assert.Contains("Refused PushData", logs);
        Assert.Contains("Refused UnregisterApplication on application " + Victim, logs);
        Assert.Contains("Refused Destroy on " + Victim, logs);
    }

    /// <summary>A fresh connection whose Authenticate is refused, then closed by the silo.</summary>
    private static async Task ExpectProofRefusedAsync(string what, SiloEndpoint endpoint, DataPlaneCredential credential, List<string> refused, List<string> accepted)
    {
        var (raw, ok) = await RawGridSocket.ConnectAndHelloAsync(endpoint);
        await using (raw)
        {
            await raw.SendFrameAsync(MessageType.Authenticate, new Authenticate(credential.Kind, credential.Name, credential.Prove(ok.Challenge, ok.SiloIdentity)), 2);
            var (header, error) = await raw.ReceiveErrorAsync();
            bool closed = await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10));
            if (header.Type == MessageType.Authenticate && error.Code == GridErrorCode.Unauthorized && closed) refused.Add(what);
            else accepted.Add($"{what}: {error.Code} {error.Message}, closed {closed}");
        }
    }

    private static async Task WithToken(string key, string token, Func<Task> call)
    {
        RequestContext.Set(key, token);
        try
        {
            await call();
        }
        finally
        {
            RequestContext.Remove(key);
        }
    }

    private static SiloEndpoint Endpoint(SiloReady silo)
    {
        string[] parts = silo.Data.Split(':');
        return new SiloEndpoint(silo.Identity, silo.Name, parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    private sealed record CopyState(int ShuffleId, int PartitionId, int Epoch, string Role, bool Committed);

    /// <summary>A primary copy of the victim that takes pushes, as the silos' /state lists it once the job registered its shuffle.</summary>
    private static async Task<(SiloReady Silo, CopyState Copy)> FindUncommittedPrimaryAsync(SiloProcessGrid grid, ChildProcess job)
    {
        // Bounded: 60 s of 50 ms polls, and the job's own end.
        for (int i = 0; i < 1200 && !job.Output.Any(l => l.StartsWith("report written", StringComparison.Ordinal)); i++)
        {
            foreach (var silo in grid.Silos)
            {
                var copies = await CopiesAsync(grid, silo);
                if (copies.FirstOrDefault(c => c.Role == "Primary" && !c.Committed) is { } copy) return (silo, copy);
            }
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"no uncommitted copy of {Victim} appeared on the silos: {job.Tail(30)}");
    }

    private static async Task<CopyState?> CopyStateAsync(SiloProcessGrid grid, SiloReady silo, CopyState copy) =>
        (await CopiesAsync(grid, silo)).FirstOrDefault(c => (c.ShuffleId, c.PartitionId, c.Epoch, c.Role) == (copy.ShuffleId, copy.PartitionId, copy.Epoch, copy.Role));

    private static async Task<List<CopyState>> CopiesAsync(SiloProcessGrid grid, SiloReady silo)
    {
        using var http = grid.StateClient();
        using var state = JsonDocument.Parse(await http.GetStringAsync($"http://{silo.Http}/state"));
        return state.RootElement.GetProperty("partitions").EnumerateArray()
            .Where(p => p.GetProperty("appId").GetString() == Victim)
            .Select(p => new CopyState(p.GetProperty("shuffleId").GetInt32(), p.GetProperty("partitionId").GetInt32(), p.GetProperty("epoch").GetInt32(),
                p.GetProperty("role").GetString()!, p.GetProperty("committed").GetBoolean()))
            .ToList();
    }
}
