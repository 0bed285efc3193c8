using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// The memory pool behind the data endpoint's sockets: pinned blocks of one size, larger than
/// Kestrel's 4 KiB. The socket transport receives into one block per receive call, so 4 KiB blocks
/// cost a system call per 4 KiB of pushed data (and again for the replica); 64 KiB blocks cut that
/// sixteen-fold. A reply's chunk slice fits a block, so it is served from the pool instead of from
/// ArrayPool.Shared. Returned blocks are kept up to <see cref="MaxKeptBytes"/>; beyond that they are
/// left to the collector, so what the pool holds follows configuration, not the data.
/// </summary>
internal sealed class DataBlockPool : MemoryPool<byte>
{
    private readonly BoundedFreeList<Block> _kept;
    private long _allocatedBlocks;
    private volatile bool _disposed;

    public DataBlockPool(int blockBytes, long maxKeptBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockBytes, 4096);
        ArgumentOutOfRangeException.ThrowIfNegative(maxKeptBytes);
        BlockBytes = blockBytes;
        MaxKeptBytes = maxKeptBytes;
        _kept = new BoundedFreeList<Block>((int)Math.Min(int.MaxValue, maxKeptBytes / blockBytes));
    }

    public int BlockBytes { get; }

    public long MaxKeptBytes { get; }

    /// <summary>Blocks allocated since the pool was made (a block rented again from the kept set does not count).</summary>
    public long AllocatedBlocks => Interlocked.Read(ref _allocatedBlocks);

    /// <summary>Blocks returned and waiting to be rented again.</summary>
    public int KeptBlocks => _kept.Count;

    /// <summary>
    /// Leaves kept blocks beyond <paramref name="keepBytes"/> to the collector (connections went
    /// away, so fewer blocks will be needed); returns the bytes dropped.
    /// </summary>
    public long TrimKept(long keepBytes)
    {
        long dropped = 0;
        // Bounded by the kept blocks: each round takes one.
        while ((long)_kept.Count * BlockBytes > keepBytes && _kept.TryTake(out _)) dropped += BlockBytes;
        return dropped;
    }

    public override int MaxBufferSize => BlockBytes;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        // A pipe asks for more than MaxBufferSize only by mistake: it takes such sizes from ArrayPool.Shared itself.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockBytes);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_kept.TryTake(out var block))
        {
            block.Rented();
            return block;
        }
        Interlocked.Increment(ref _allocatedBlocks);
        return new Block(this, GC.AllocateUninitializedArray<byte>(BlockBytes, pinned: true));
    }

    private void Return(Block block)
    {
        if (!_disposed) _kept.TryKeep(block);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _kept.Clear();
    }

    private sealed class Block(DataBlockPool pool, byte[] array) : IMemoryOwner<byte>
    {
        // The array lives on the pinned object heap, so pinning it for a socket call costs no GC handle.
        private readonly Memory<byte> _memory = MemoryMarshal.CreateFromPinnedArray(array, 0, array.Length);
        private int _returned;

        public Memory<byte> Memory
        {
            get
            {
                ObjectDisposedException.ThrowIf(Volatile.Read(ref _returned) != 0, this);
                return _memory;
            }
        }

        public void Rented() => Volatile.Write(ref _returned, 0);

        public void Dispose()
        {
            // A second return before the block is rented again would put it in the kept set twice: ignore it.
            if (Interlocked.Exchange(ref _returned, 1) == 0) pool.Return(this);
        }
    }
}

/// <summary>Gives Kestrel's socket transport the data endpoint's <see cref="DataBlockPool"/> instead of its 4 KiB pinned pool.</summary>
internal sealed class DataBlockPoolFactory(DataBlockPool pool) : IMemoryPoolFactory<byte>
{
    /// <summary>One pool for every listener and connection; the endpoint owns and disposes it.</summary>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new SharedView(pool);

    // The transport disposes the pool it was given when it unbinds; the shared pool must outlive that.
    private sealed class SharedView(DataBlockPool pool) : MemoryPool<byte>
    {
        public override int MaxBufferSize => pool.MaxBufferSize;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => pool.Rent(minBufferSize);

        protected override void Dispose(bool disposing)
        {
        }
    }
}
