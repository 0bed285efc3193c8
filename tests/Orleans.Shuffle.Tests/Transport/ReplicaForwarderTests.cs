using System.Buffers;
using Microsoft.Extensions.Time.Testing;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Silo.DataPlane;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Transport;

/// <summary>A primary's forwarder against a replica silo that cannot be reached: real loopback sockets, a fake clock for the quarantine.</summary>
public sealed class ReplicaForwarderTests
{
    [Fact]
    public async Task A_replica_that_could_not_be_reached_fails_the_next_forwards_at_once_until_its_quarantine_ends()
    {
        var clock = new FakeTimeProvider();
        // A port nothing listens on: every connect is refused.
        int port = LoopbackPort.Free();
        var replica = new SiloEndpoint("127.0.0.1:1@1", "gone", "127.0.0.1", port);
        await using var pool = new SiloConnectionPool(new GridConnectionOptions { PeerName = "primary", ConnectTimeout = TimeSpan.FromSeconds(5) });
        var forwarder = new ReplicaForwarder(pool, clock);
        ReplicaPush Push()
        {
            var push = new ReplicaPush(replica, "app-a", 0);
            push.Add(0, 0, new ReadOnlySequence<byte>(TestBatches.Make(0, 0, 1, "x"u8)));
            return push;
        }

        var first = await Assert.ThrowsAsync<GridException>(() => forwarder.ForwardAsync([Push()]));
        Assert.Equal(GridErrorCode.ReplicationFailed, first.Code);
        Assert.Contains("SiloUnavailable", first.Message);

        // Within the quarantine: refused without a connection attempt, saying why.
        var quarantined = await Assert.ThrowsAsync<GridException>(() => forwarder.ForwardAsync([Push()]));
        Assert.Equal(GridErrorCode.ReplicationFailed, quarantined.Code);
        Assert.Contains("failed moments ago", quarantined.Message);

        // After it, the replica is tried again (and is still unreachable).
        clock.Advance(ReplicaForwarder.FailedPeerQuarantine + TimeSpan.FromSeconds(1));
        var retried = await Assert.ThrowsAsync<GridException>(() => forwarder.ForwardAsync([Push()]));
        Assert.Contains("SiloUnavailable", retried.Message);
    }
}
