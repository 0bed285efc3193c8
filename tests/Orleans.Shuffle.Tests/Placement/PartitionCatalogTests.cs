using System.Buffers;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Placement;

public sealed class PartitionCatalogTests : IDisposable
{
    private readonly TempDirectory _temp = new("oshuffle-catalog");
    private readonly PartitionCatalog _catalog;

    public PartitionCatalogTests()
    {
        _catalog = new PartitionCatalog(new StorageOptions
        {
            Directories = [_temp.Combine("disk0"), _temp.Combine("disk1")],
            SlotsPerDisk = 4,
            FlushBufferBytes = 4096,
            ChunkBytes = 8192,
            MaxBufferedBytes = 1024 * 1024,
        }, TimeProvider.System);
    }

    public void Dispose()
    {
        _catalog.Dispose();
        _temp.Dispose();
    }

    private static List<PartitionRef> Refs(params int[] partitions) => partitions.Select(p => new PartitionRef(p, 0)).ToList();

    private static List<PartitionReservation> Primaries(params int[] partitions) =>
        partitions.Select(p => new PartitionReservation(p, 0, PartitionRole.Primary, null)).ToList();

    [Fact]
    public void Reserving_takes_slots_spread_over_disks()
    {
        Assert.Equal(8, _catalog.TotalSlots);
        Assert.Equal(8, _catalog.FreeSlots);
        _catalog.Reserve("app", 0, Primaries(0, 1, 2, 3));
        Assert.Equal(4, _catalog.FreeSlots);
        Assert.Equal(4, _catalog.Count);
        // The disk with the most free slots takes each one: two and two.
        Assert.All(_catalog.Disks, d => Assert.Equal(2, d.UsedSlots));
        Assert.NotNull(_catalog.Find(new PartitionKey("app", 0, 3, 0)));
        Assert.Null(_catalog.Find(new PartitionKey("app", 0, 4, 0)));
    }

    [Fact]
    public void Reserve_is_idempotent()
    {
        _catalog.Reserve("app", 0, Primaries(0, 1, 2));
        var grain = _catalog.Find(new PartitionKey("app", 0, 1, 0));
        _catalog.Reserve("app", 0, Primaries(0, 1, 2));
        _catalog.Reserve("app", 0, Primaries(1));
        Assert.Equal(5, _catalog.FreeSlots);
        Assert.Equal(3, _catalog.Count);
        Assert.Same(grain, _catalog.Find(new PartitionKey("app", 0, 1, 0)));
    }

    [Fact]
    public void Reserve_is_all_or_nothing()
    {
        _catalog.Reserve("app", 0, Primaries(0, 1, 2, 3, 4));
        Assert.Equal(3, _catalog.FreeSlots);
        // Two already active (no slot needed) and four new ones, but only three slots are free.
        var e = Assert.Throws<GridException>(() => _catalog.Reserve("app", 0, Primaries(3, 4, 5, 6, 7, 8)));
        Assert.Equal(ErrorCode.NoSlots, e.Code);
        Assert.Equal(3, _catalog.FreeSlots);
        Assert.Equal(5, _catalog.Count);
        Assert.All(new[] { 5, 6, 7, 8 }, p => Assert.Null(_catalog.Find(new PartitionKey("app", 0, p, 0))));
        // The ones already there are untouched, and the free slots are still usable.
        Assert.NotNull(_catalog.Find(new PartitionKey("app", 0, 4, 0)));
        _catalog.Reserve("app", 0, Primaries(5, 6, 7));
        Assert.Equal(0, _catalog.FreeSlots);
    }

    [Fact]
    public void Reserve_validates_ids_before_taking_anything()
    {
        Assert.Equal(ErrorCode.InvalidId, Assert.Throws<GridException>(() => _catalog.Reserve("../etc", 0, Primaries(0))).Code);
        Assert.Equal(ErrorCode.InvalidId, Assert.Throws<GridException>(() => _catalog.Reserve("app", -1, Primaries(0))).Code);
        Assert.Equal(ErrorCode.InvalidId, Assert.Throws<GridException>(() => _catalog.Reserve("app", 0, [new PartitionReservation(0, 0, PartitionRole.Primary, null), new PartitionReservation(-1, 0, PartitionRole.Primary, null)])).Code);
        Assert.Equal(8, _catalog.FreeSlots);
        Assert.Equal(0, _catalog.Count);
    }

    [Fact]
    public async Task Destroy_deletes_files_and_frees_slots()
    {
        _catalog.Reserve("app", 0, Primaries(0, 1, 2));
        _catalog.Reserve("app", 1, Primaries(0, 1));
        _catalog.Reserve("other", 0, Primaries(0));
        Assert.Equal(2, _catalog.FreeSlots);

        foreach (var grain in _catalog.All.ToList())
        {
            for (int b = 0; b < 5; b++)
            {
                grain.Append(new ReadOnlySequence<byte>(TestBatches.Make(b, 0, 0, TestBatches.Payload(3000, b))));
            }
        }
        var commit = await _catalog.CommitAsync("app", 0, Refs(0, 1, 2));
        Assert.Equal(3, commit.Partitions.Count);
        Assert.All(commit.Partitions, p => Assert.Equal(5, p.File.BatchCount));
        var files = _catalog.All.Where(g => g.Key.AppId == "app" && g.Key.ShuffleId == 0).Select(g => g.File.Path).ToList();
        Assert.All(files, f => Assert.True(File.Exists(f), f));

        Assert.Equal(3, await _catalog.DestroyAsync("app", 0));
        Assert.All(files, f => Assert.False(File.Exists(f), f));
        Assert.All(_catalog.Disks, d => Assert.False(Directory.Exists(d.ShuffleDirectory("app", 0))));
        Assert.Equal(5, _catalog.FreeSlots);
        Assert.Equal(3, _catalog.Count);

        Assert.Equal(2, await _catalog.DestroyAsync("app", ShuffleRequest.AllShuffles));
        Assert.All(_catalog.Disks, d => Assert.False(Directory.Exists(d.AppDirectory("app"))));
        Assert.Equal(7, _catalog.FreeSlots);

        Assert.Equal(1, await _catalog.DestroyAsync("other", 0));
        Assert.Equal(8, _catalog.FreeSlots);
        Assert.Equal(0, _catalog.Count);
        Assert.Equal(0, _catalog.Budget.UsedBytes);
    }

    [Fact]
    public async Task A_commit_reply_lists_only_the_epochs_that_committed_here()
    {
        // Partition 1 is not on this silo: it is left out, and partition 0 still commits (one bad
        // epoch must not sink the others; the ShuffleGrain counts the missing copy as lost).
        _catalog.Reserve("app", 0, Primaries(0));
        var reply = await _catalog.CommitAsync("app", 0, Refs(0, 1));
        var committed = Assert.Single(reply.Partitions);
        Assert.Equal((0, 0), (committed.PartitionId, committed.Epoch));
    }

    [Fact]
    public void Pushed_batches_are_validated_by_the_grain()
    {
        _catalog.Reserve("app", 0, Primaries(0));
        var grain = _catalog.Find(new PartitionKey("app", 0, 0, 0))!;
        var batch = TestBatches.Make(0, 0, 0, TestBatches.Payload(10, 1));
        Assert.Equal(ErrorCode.MalformedFrame, Assert.Throws<GridException>(() => grain.Append(new ReadOnlySequence<byte>(batch[..10]))).Code);
        Assert.Equal(ErrorCode.MalformedFrame, Assert.Throws<GridException>(() => grain.Append(new ReadOnlySequence<byte>(batch[..^1]))).Code);
        Assert.Equal(ErrorCode.MalformedFrame, Assert.Throws<GridException>(() => grain.Append(new ReadOnlySequence<byte>([.. batch, 0]))).Code);
        var corrupt = (byte[])batch.Clone();
        corrupt[^1] ^= 1;
        Assert.Equal(ErrorCode.ChecksumMismatch, Assert.Throws<GridException>(() => grain.Append(new ReadOnlySequence<byte>(corrupt))).Code);
        grain.Append(Sequences.Split(batch, 7, 25));
        Assert.Equal(1, grain.PushedBatches);
        Assert.Equal(10, grain.PushedBytes);
    }
}
