using System.Buffers;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Placement;

/// <summary>A silo's partition catalog: slots over its disks, and the copies the data endpoint appends to.</summary>
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
        });
    }

    public void Dispose()
    {
        _catalog.Dispose();
        _temp.Dispose();
    }

    private static PartitionKey Key(int partition, string app = "app", int shuffle = 0) => new(app, shuffle, partition, 0);

    private HostedPartition Primary(int partition, string app = "app", int shuffle = 0) =>
        _catalog.Reserve(Key(partition, app, shuffle), PartitionRole.Primary, null);

    [Fact]
    public void Reserving_takes_slots_spread_over_disks()
    {
        Assert.Equal(8, _catalog.TotalSlots);
        for (int p = 0; p < 4; p++) Primary(p);
        Assert.Equal(4, _catalog.FreeSlots);
        Assert.Equal(4, _catalog.Count);
        // The disk with the most free slots takes each one: two and two.
        Assert.All(_catalog.Disks, d => Assert.Equal(2, d.UsedSlots));
        Assert.NotNull(_catalog.Find(Key(3)));
        Assert.Null(_catalog.Find(Key(4)));
    }

    [Fact]
    public void Reserve_is_idempotent_and_refuses_the_same_copy_in_another_role()
    {
        var first = Primary(1);
        Assert.Same(first, Primary(1));
        // One silo never holds both copies of an epoch: a reserve that says otherwise is refused, not answered with the other copy.
        var refused = Assert.Throws<GridException>(() => _catalog.Reserve(Key(1), PartitionRole.Replica, null));
        Assert.Equal(GridErrorCode.InvalidArgument, refused.Code);
        Assert.Equal(7, _catalog.FreeSlots);
        Assert.Equal(PartitionRole.Primary, _catalog.Find(Key(1))!.Role);
    }

    [Fact]
    public void Files_an_earlier_incarnation_left_are_deleted_at_start_and_nothing_else()
    {
        string disk = _temp.Combine("restarted");
        string leftover = Path.Combine(disk, "app-old", "shuffle-3", "7-1.data");
        string unrelated = Path.Combine(disk, "notes.txt");
        string unrelatedInApp = Path.Combine(disk, "app-old", "keep.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(leftover)!);
        File.WriteAllText(leftover, "old data");
        File.WriteAllText(unrelated, "not ours");
        File.WriteAllText(unrelatedInApp, "not ours either");

        using var catalog = new PartitionCatalog(new StorageOptions { Directories = [disk], SlotsPerDisk = 2 });
        Assert.Equal(1, catalog.LeftoversDeleted);
        Assert.False(File.Exists(leftover));
        Assert.False(Directory.Exists(Path.GetDirectoryName(leftover)));
        Assert.True(File.Exists(unrelated));
        Assert.True(File.Exists(unrelatedInApp));
    }

    [Fact]
    public void A_full_silo_refuses_with_NoSlots_and_takes_nothing()
    {
        for (int p = 0; p < 8; p++) Primary(p);
        var refused = Assert.Throws<GridException>(() => Primary(8));
        Assert.Equal(GridErrorCode.NoSlots, refused.Code);
        Assert.Equal(8, _catalog.Count);
        Assert.Null(_catalog.Find(Key(8)));
    }

    [Fact]
    public async Task Destroy_deletes_the_file_frees_the_slot_and_the_empty_directories()
    {
        var copies = new[] { Primary(0), Primary(1), Primary(0, shuffle: 1) };
        foreach (var copy in copies)
        {
            for (int b = 0; b < 5; b++) copy.Append(new ReadOnlySequence<byte>(TestBatches.Make(b, 0, 0, TestBatches.Payload(3000, b))));
        }
        var committed = await _catalog.CommitAsync(copies[0]);
        Assert.Equal(5, committed.BatchCount);
        // 15 KB each through 4 KiB flush buffers: every file is on its disk already.
        Assert.All(copies, c => Assert.True(File.Exists(c.File.Path), c.File.Path));

        await _catalog.DestroyAsync(Key(0));
        Assert.False(File.Exists(copies[0].File.Path));
        Assert.Equal(6, _catalog.FreeSlots);
        Assert.True(File.Exists(copies[1].File.Path));

        await _catalog.DestroyAsync(Key(1));
        // Flushed buffers are kept for the next pushes while any copy is hosted...
        Assert.True(_catalog.Budget.KeptBytes > 0);
        await _catalog.DestroyAsync(Key(0, shuffle: 1));
        // ...and let go with the last one, so an idle silo holds no buffer memory.
        Assert.Equal(0, _catalog.Budget.KeptBytes);
        await _catalog.DestroyAsync(Key(0)); // idempotent
        Assert.All(_catalog.Disks, d => Assert.False(Directory.Exists(d.AppDirectory("app"))));
        Assert.Equal(8, _catalog.FreeSlots);
        Assert.Equal(0, _catalog.Count);
        Assert.Equal(0, _catalog.Budget.UsedBytes);
    }

    [Fact]
    public void Pushed_batches_are_validated_before_they_are_stored()
    {
        var copy = Primary(0);
        var batch = TestBatches.Make(0, 0, 0, TestBatches.Payload(10, 1));
        Assert.Equal(GridErrorCode.MalformedFrame, Assert.Throws<GridException>(() => copy.Append(new ReadOnlySequence<byte>(batch[..10]))).Code);
        Assert.Equal(GridErrorCode.MalformedFrame, Assert.Throws<GridException>(() => copy.Append(new ReadOnlySequence<byte>(batch[..^1]))).Code);
        Assert.Equal(GridErrorCode.MalformedFrame, Assert.Throws<GridException>(() => copy.Append(new ReadOnlySequence<byte>([.. batch, 0]))).Code);
        var corrupt = (byte[])batch.Clone();
        corrupt[^1] ^= 1;
        Assert.Equal(GridErrorCode.ChecksumMismatch, Assert.Throws<GridException>(() => copy.Append(new ReadOnlySequence<byte>(corrupt))).Code);
        copy.Append(Sequences.Split(batch, 7, 25));
        Assert.Equal(1, copy.PushedBatches);
        Assert.Equal(10, copy.PushedBytes);
    }

    [Fact]
    public async Task An_applications_keys_are_counted_per_copy_that_holds_one_and_leave_with_the_last()
    {
        byte[] first = [.. Enumerable.Repeat((byte)1, 32)], second = [.. Enumerable.Repeat((byte)2, 32)];
        _catalog.Reserve(Key(0), PartitionRole.Primary, null, first);
        _catalog.Reserve(Key(1), PartitionRole.Primary, null, [.. first]); // the same key, another array
        _catalog.Reserve(Key(2), PartitionRole.Primary, null);              // no key (authentication off)
        _catalog.Reserve(Key(0), PartitionRole.Primary, null, first);      // a repeat: not another copy
        Assert.Equal([first], _catalog.ApplicationKeys("app"));
        Assert.Empty(_catalog.ApplicationKeys("other"));

        // The id registered again by someone else: both keys, each with its own copies.
        _catalog.Reserve(Key(0, shuffle: 1), PartitionRole.Primary, null, second);
        Assert.Equal([first, second], _catalog.ApplicationKeys("app"));
        Assert.Same(second, _catalog.Find(Key(0, shuffle: 1))!.ApplicationKey);

        await _catalog.DestroyAsync(Key(2));
        await _catalog.DestroyAsync(Key(0));
        Assert.Equal([first, second], _catalog.ApplicationKeys("app"));
        await _catalog.DestroyAsync(Key(1));
        Assert.Equal([second], _catalog.ApplicationKeys("app"));
        await _catalog.DestroyAsync(Key(0, shuffle: 1));
        Assert.Empty(_catalog.ApplicationKeys("app"));
    }
}
