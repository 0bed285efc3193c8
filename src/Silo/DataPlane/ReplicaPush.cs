using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>The batches a primary forwards to one replica silo, as a ReplicateData body (the PushData layout).</summary>
public sealed class ReplicaPush(SiloEndpoint peer, string appId, int shuffleId) : IDisposable
{
    public SiloEndpoint Peer { get; } = peer;

    public string AppId { get; } = appId;

    public int ShuffleId { get; } = shuffleId;

    public int Count { get; private set; }

    /// <summary>The entries: i32 partitionId, i32 epoch, i32 batchLength, batch — copied from the client's push.</summary>
    public PooledBufferWriter Entries { get; } = new(64 * 1024 + 64);

    public void Add(int partitionId, int epoch, in System.Buffers.ReadOnlySequence<byte> batch)
    {
        var writer = new WireWriter(Entries);
        writer.WriteInt32(partitionId);
        writer.WriteInt32(epoch);
        writer.WriteInt32((int)batch.Length);
        writer.WriteRaw(batch);
        Count++;
    }

    /// <summary>The ReplicateData header (the PushData layout); the entries follow it from <see cref="Entries"/>.</summary>
    public PushDataHeader Head => new(AppId, ShuffleId, Count);

    public void Dispose() => Entries.Dispose();
}

/// <summary>Groups a push's batches by replica silo.</summary>
internal sealed class ReplicaPushBuilder(string appId, int shuffleId) : IDisposable
{
    private Dictionary<string, ReplicaPush>? _byPeer;

    public void Add(SiloEndpoint peer, int partitionId, int epoch, in System.Buffers.ReadOnlySequence<byte> batch)
    {
        _byPeer ??= [];
        if (!_byPeer.TryGetValue(peer.Identity, out var push)) _byPeer[peer.Identity] = push = new ReplicaPush(peer, appId, shuffleId);
        push.Add(partitionId, epoch, batch);
    }

    public IReadOnlyList<ReplicaPush> Build() => _byPeer is null ? [] : [.. _byPeer.Values];

    public void Dispose()
    {
        foreach (var push in _byPeer?.Values ?? Enumerable.Empty<ReplicaPush>()) push.Dispose();
    }
}
