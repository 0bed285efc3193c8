using System.Buffers;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Faults;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Storage;

/// <summary>
/// A silo's disks on real file systems that fail: tmpfs mounts made read-only, remounted, filled, or
/// smaller than the reserve (Linux and root, like the fault tests). A disk that fails takes no new
/// partitions, the others keep serving, and a disk comes back when its check passes.
/// </summary>
public sealed class DiskCheckTests : IDisposable
{
    private readonly TempDirectory _temp = new("oshuffle-diskcheck");

    public void Dispose() => _temp.Dispose();

    private static StorageOptions Options(params string[] disks) => new()
    {
        Directories = [.. disks],
        SlotsPerDisk = 4,
        ReservedBytesPerDisk = 0,
        FlushBufferBytes = 4096,
        ChunkBytes = 8192,
        MaxBufferedBytes = 1024 * 1024,
    };

    private static PartitionKey Key(int partition) => new("app", 0, partition, 0);

    private static void AppendBatches(HostedPartition copy, int count, int payloadBytes)
    {
        for (int b = 0; b < count; b++) copy.Append(new ReadOnlySequence<byte>(TestBatches.Make(0, 0, b, TestBatches.Payload(payloadBytes, b))));
    }

    [Fact]
    public void A_read_only_disk_is_left_out_at_start_and_the_other_disk_serves()
    {
        using var readOnly = TmpfsMount.Mount(_temp.Combine("ro"), 4, readOnly: true);
        string good = _temp.Combine("good");
        using var catalog = new PartitionCatalog(Options(readOnly.Directory, good));

        var excluded = catalog.Disks[0];
        Assert.False(excluded.Healthy);
        Assert.Contains("Read-only file system", excluded.Problem);
        Assert.Equal(new[] { catalog.Disks[1] }, catalog.UsableDisks);
        Assert.Equal(4, catalog.TotalSlots);
        for (int p = 0; p < 4; p++) Assert.Equal(catalog.Disks[1], catalog.Reserve(Key(p), PartitionRole.Primary, null).Disk);
        Assert.Equal(GridErrorCode.NoSlots, Assert.Throws<GridException>(() => catalog.Reserve(Key(4), PartitionRole.Primary, null)).Code);
    }

    [Fact]
    public void A_disk_that_turns_read_only_takes_no_partitions_until_a_check_finds_it_writable()
    {
        using var disk = TmpfsMount.Mount(_temp.Combine("flaky"), 4);
        using var catalog = new PartitionCatalog(Options(disk.Directory));
        Assert.True(catalog.Disks[0].Healthy);
        catalog.Reserve(Key(0), PartitionRole.Primary, null);

        disk.Remount(readOnly: true);
        Assert.Contains("Read-only file system", catalog.Disks[0].Check());
        Assert.Equal(0, catalog.FreeSlots);
        Assert.Equal(GridErrorCode.NoSlots, Assert.Throws<GridException>(() => catalog.Reserve(Key(1), PartitionRole.Primary, null)).Code);

        disk.Remount(readOnly: false);
        Assert.Null(catalog.Disks[0].Check());
        Assert.Equal(3, catalog.FreeSlots);
        catalog.Reserve(Key(1), PartitionRole.Primary, null);
    }

    [Fact]
    public async Task A_full_disk_fails_only_the_copy_that_hit_it_counts_the_error_and_comes_back_once_space_is_freed()
    {
        using var disk = TmpfsMount.Mount(_temp.Combine("small"), 1);
        using var catalog = new PartitionCatalog(Options(disk.Directory, _temp.Combine("other")));
        var onSmall = catalog.Reserve(Key(0), PartitionRole.Primary, null);
        var onOther = catalog.Reserve(Key(1), PartitionRole.Primary, null);
        Assert.NotEqual(onSmall.Disk, onOther.Disk);

        // 2 MiB into a 1 MiB file system: a write fails with ENOSPC on the flusher; appends or the commit report it.
        var failed = await Assert.ThrowsAsync<GridException>(async () =>
        {
            AppendBatches(onSmall, 64, 32 * 1024);
            await catalog.CommitAsync(onSmall);
        });
        Assert.Equal(GridErrorCode.StorageFailure, failed.Code);
        Assert.False(onSmall.Disk.Healthy);
        Assert.True(onSmall.Disk.DiskErrors > 0);
        Assert.Contains("a write failed", onSmall.Disk.Problem);

        // The other disk's copy is untouched, and new copies go there.
        AppendBatches(onOther, 4, 3000);
        Assert.Equal(4, (await catalog.CommitAsync(onOther)).BatchCount);
        Assert.Equal(onOther.Disk, catalog.Reserve(Key(2), PartitionRole.Primary, null).Disk);

        // Deleting the failed copy frees the space; the next check brings the disk back.
        await catalog.DestroyAsync(Key(0));
        Assert.Null(onSmall.Disk.Check());
        Assert.Equal(4, onSmall.Disk.FreeSlots);
    }

    [Fact]
    public void A_disk_with_less_free_space_than_the_reserve_gets_no_slots()
    {
        using var disk = TmpfsMount.Mount(_temp.Combine("tight"), 8);
        var options = Options(disk.Directory);
        options.SlotsPerDisk = 0;
        options.ReservedBytesPerDisk = 16L << 20;
        using var catalog = new PartitionCatalog(options);

        Assert.Contains("below the reserve", catalog.Disks[0].Problem);
        Assert.Equal(0, catalog.Disks[0].TotalSlots);
        Assert.Empty(catalog.UsableDisks);
        Assert.Equal(0, StorageDirectory.DeriveSlots(8L << 20, options));
        Assert.Equal(2, StorageDirectory.DeriveSlots((16L << 20) + 2 * options.EstimatedPartitionBytes, options));
    }

    [Fact]
    public async Task A_queued_write_whose_file_was_deleted_meanwhile_does_not_count_against_the_disk()
    {
        var diskErrors = new List<Exception>();
        using var flusher = new DiskFlusher("deleted", diskErrors.Add);
        var budget = new MemoryBudget(1 << 20, 4096);
        var writer = new PartitionFileWriter(_temp.Combine("app", "shuffle-0", "0-0.data"), flusher, budget, 4096, 8192);
        await writer.DeleteAsync();

        // What the flusher meets when a partition is destroyed with writes still queued for it.
        var bytes = budget.RentBuffer();
        bytes.Append(new ReadOnlySequence<byte>(new byte[100]), 0);
        flusher.Enqueue(new FlushWork(writer, bytes, 0));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Bounded: the flusher takes the write at once.
        while (flusher.Failures == 0 && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(10);

        Assert.Equal(1, flusher.Failures);
        Assert.Empty(diskErrors);
        Assert.Equal(0, budget.UsedBytes);
    }
}
