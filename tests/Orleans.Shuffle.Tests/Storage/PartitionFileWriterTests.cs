using System.Buffers;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Storage;

public sealed class PartitionFileWriterTests : IDisposable
{
    private const int FlushBufferBytes = 4096;
    private const int ChunkBytes = 8192;

    private readonly TempDirectory _temp = new("oshuffle-storage");
    private readonly DiskFlusher _flusher = new("test", _ => { });
    private readonly MemoryBudget _budget = new(64L * 1024 * 1024);

    public void Dispose()
    {
        _flusher.Dispose();
        _temp.Dispose();
    }

    private PartitionFileWriter NewWriter(string name = "p0-0.data", int chunkBytes = ChunkBytes) =>
        new(_temp.Combine("app", "shuffle-0", name), _flusher, _budget, FlushBufferBytes, chunkBytes);

    private static void Append(PartitionFileWriter writer, byte[] batch)
    {
        Assert.True(BatchHeader.TryRead(batch, out var header));
        writer.Append(new ReadOnlySequence<byte>(batch), header);
    }

    /// <summary>Batches of many sizes: empty, tiny, around the flush buffer, and larger than a chunk.</summary>
    private static List<byte[]> VariousBatches(int count, int seed)
    {
        var random = new Random(seed);
        var batches = new List<byte[]>();
        var nextBatchId = new int[8];
        for (int i = 0; i < count; i++)
        {
            int size = (i % 37) switch
            {
                0 => 0,
                1 => ChunkBytes + random.Next(1, 5000), // alone in its chunk
                2 => FlushBufferBytes - BatchHeader.Size,
                3 => FlushBufferBytes + 1,
                _ => random.Next(1, 1500),
            };
            int map = random.Next(8);
            batches.Add(TestBatches.Make(map, 0, nextBatchId[map]++, TestBatches.Payload(size, seed * 100_000 + i)));
        }
        return batches;
    }

    [Fact]
    public async Task Commit_reports_size_batches_crc_and_batch_aligned_chunks()
    {
        using var writer = NewWriter();
        var batches = VariousBatches(300, seed: 1);
        foreach (var batch in batches) Append(writer, batch);
        Assert.Equal(batches.Sum(b => (long)b.Length), writer.Length);
        Assert.Equal(batches.Count, writer.Batches);

        var committed = await writer.CommitAsync(fsync: true);
        var expected = batches.SelectMany(b => b).ToArray();
        var onDisk = await File.ReadAllBytesAsync(writer.Path);

        Assert.Equal(expected.Length, committed.Bytes);
        Assert.Equal(expected, onDisk);
        Assert.Equal(batches.Count, committed.BatchCount);
        Assert.Equal(TestBatches.ReferenceCrc32C(onDisk), committed.Crc32C);

        // Chunk boundaries: from 0 to the end, increasing, each on a batch boundary.
        var boundaries = new List<long> { 0 };
        foreach (var batch in batches) boundaries.Add(boundaries[^1] + batch.Length);
        var offsets = committed.ChunkOffsets;
        Assert.Equal(0, offsets[0]);
        Assert.Equal(committed.Bytes, offsets[^1]);
        Assert.True(committed.ChunkCount > 10, $"only {committed.ChunkCount} chunks");
        for (int c = 0; c < committed.ChunkCount; c++)
        {
            Assert.True(offsets[c] < offsets[c + 1], $"chunk {c} is empty");
            Assert.Contains(offsets[c + 1], boundaries);
            int first = boundaries.IndexOf(offsets[c]);
            int end = boundaries.IndexOf(offsets[c + 1]);
            long length = offsets[c + 1] - offsets[c];
            int batchesInChunk = end - first;
            // At most ChunkBytes, unless the chunk is one batch that alone is larger.
            Assert.True(length <= ChunkBytes || batchesInChunk == 1, $"chunk {c}: {length} bytes in {batchesInChunk} batches");
            // Greedy: a chunk ends only where the next batch would not have fitted.
            if (c + 1 < committed.ChunkCount)
            {
                long next = batches[end].Length;
                Assert.True(length + next > ChunkBytes, $"chunk {c} ({length} bytes) could have taken the next batch ({next} bytes)");
            }
        }

        // Every chunk reads back exactly, and is a run of valid batches.
        for (int c = 0; c < committed.ChunkCount; c++)
        {
            var (buffer, length) = writer.ReadChunk(c, 0, int.MaxValue);
            try
            {
                Assert.Equal(onDisk[(int)offsets[c]..(int)offsets[c + 1]], buffer.AsSpan(0, length).ToArray());
                var iterator = new BatchIterator(buffer.AsSpan(0, length));
                while (iterator.MoveNext(out _, out _)) { }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        // Every flush buffer went back to the budget.
        Assert.Equal(0, _budget.UsedBytes);
    }

    [Fact]
    public async Task Map_range_reads_keep_only_those_maps_in_order()
    {
        using var writer = NewWriter();
        var batches = VariousBatches(200, seed: 2);
        foreach (var batch in batches) Append(writer, batch);
        var committed = await writer.CommitAsync(fsync: false);
        var onDisk = await File.ReadAllBytesAsync(writer.Path);

        foreach (var (start, end) in new[] { (2, 5), (0, 1), (7, int.MaxValue), (3, 3), (100, 200) })
        {
            var kept = new List<byte>();
            for (int c = 0; c < committed.ChunkCount; c++)
            {
                var (buffer, length) = writer.ReadChunk(c, start, end);
                try
                {
                    var iterator = new BatchIterator(buffer.AsSpan(0, length));
                    while (iterator.MoveNext(out var header, out _)) Assert.InRange(header.MapId, start, end - 1);
                    kept.AddRange(buffer.AsSpan(0, length).ToArray());
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            var expected = batches.Where(b => BatchHeader.TryRead(b, out var h) && h.MapId >= start && h.MapId < end).SelectMany(b => b);
            Assert.Equal(expected, kept);
        }
        // The file itself is untouched by filtered reads.
        Assert.Equal(onDisk, await File.ReadAllBytesAsync(writer.Path));
    }

    /// <summary>
    /// With pieces smaller than the batches, a batch spans pieces, and one larger than 256 pieces is
    /// written in several gathered writes: the file still holds every byte in order, batches split
    /// across pieces (one arriving in segments) are verified, and every piece goes back.
    /// </summary>
    [Fact]
    public async Task Batches_spanning_many_pieces_are_stored_exactly_and_every_piece_comes_back()
    {
        const int Piece = 4096;
        using var flusher = new DiskFlusher("pieces", _ => { });
        var budget = new MemoryBudget(64L * 1024 * 1024, Piece);
        using var writer = new PartitionFileWriter(_temp.Combine("app", "shuffle-0", "pieces.data"), flusher, budget, 4 * Piece, 1 << 20);
        int[] sizes = [100, Piece, 3 * Piece + 5, 300 * Piece + 11, 1, Piece - BatchHeader.Size, 7 * Piece];
        var batches = sizes.Select((size, i) => TestBatches.Make(0, 0, i, TestBatches.Payload(size, 40 + i))).ToList();
        for (int i = 0; i < batches.Count; i++)
        {
            Assert.True(BatchHeader.TryRead(batches[i], out var header));
            // Each batch arrives in segments, as from a receive pipe; 13-byte ones split the header too.
            writer.Append(Segments.Of(batches[i], i % 2 == 0 ? 1000 : 13), header);
        }
        var committed = await writer.CommitAsync(fsync: false);
        var onDisk = await File.ReadAllBytesAsync(writer.Path);
        Assert.Equal(batches.SelectMany(b => b).ToArray(), onDisk);
        Assert.Equal(TestBatches.ReferenceCrc32C(onDisk), committed.Crc32C);
        Assert.Equal(0, budget.UsedBytes);
        // The 1.2 MiB batch alone was over 256 pieces, so at least one write was split in groups.
        Assert.True(budget.KeptBytes >= 301L * Piece, $"{budget.KeptBytes} bytes of pieces kept");
    }

    /// <summary>A batch whose bytes differ from its checksum, split across segments, is refused, and nothing stays counted.</summary>
    [Fact]
    public async Task A_corrupt_batch_in_segments_is_refused_and_holds_no_piece()
    {
        var budget = new MemoryBudget(64L * 1024 * 1024, 4096);
        using var writer = new PartitionFileWriter(_temp.Combine("app", "shuffle-0", "corrupt-segments.data"), _flusher, budget, 16384, 1 << 20);
        var batch = TestBatches.Make(0, 0, 0, TestBatches.Payload(9000, 3));
        Assert.True(BatchHeader.TryRead(batch, out var header));
        batch[^1] ^= 1;
        var error = Assert.Throws<GridException>(() => writer.Append(Segments.Of(batch, 1000), header));
        Assert.Equal(GridErrorCode.ChecksumMismatch, error.Code);
        Assert.Equal(0, budget.UsedBytes);
        Assert.Equal(0, (await writer.CommitAsync(fsync: false)).Bytes);
    }

    [Fact]
    public async Task A_partition_starts_with_small_buffers_and_earns_flush_sized_ones()
    {
        const int Flush = 64 * 1024;
        using var flusher = new DiskFlusher("growth", _ => { });
        var budget = new MemoryBudget(64L * 1024 * 1024);
        using var writer = new PartitionFileWriter(_temp.Combine("app", "shuffle-0", "growth.data"), flusher, budget, Flush, 1 << 20);
        var batch = TestBatches.Make(0, 0, 0, TestBatches.Payload(1000, 5));

        // The first buffer is an eighth of the flush size: 8 KiB holds 7 of these batches, the 8th needs a new one.
        for (int i = 0; i < 8; i++) Append(writer, batch);
        await WaitForAsync(() => flusher.Writes == 1);
        Assert.Equal(7 * batch.Length, flusher.BytesWritten);

        // Then 16, 32 and 64 KiB buffers, and 64 KiB from there on.
        for (int i = 0; i < 200; i++) Append(writer, batch);
        var committed = await writer.CommitAsync(fsync: false);
        Assert.Equal(208L * batch.Length, committed.Bytes);
        int[] perWrite = [7, 15, 31, 63];
        int firstFour = perWrite.Sum();
        int expectedWrites = perWrite.Length + (208 - firstFour + 62) / 63;
        Assert.Equal(expectedWrites, flusher.Writes);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        // Bounded: 10 s of 10 ms polls.
        for (int i = 0; i < 1000 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }

    [Fact]
    public async Task Commit_is_idempotent()
    {
        using var writer = NewWriter();
        foreach (var batch in VariousBatches(20, seed: 3)) Append(writer, batch);
        var first = writer.CommitAsync(fsync: false);
        var second = writer.CommitAsync(fsync: false);
        var a = await first;
        var b = await second;
        var c = await writer.CommitAsync(fsync: true);
        Assert.Same(a, b);
        Assert.Same(a, c);
        Assert.Same(a, writer.Committed);
    }

    [Fact]
    public async Task Append_after_commit_is_PartitionCommitted()
    {
        using var writer = NewWriter();
        Append(writer, TestBatches.Make(0, 0, 0, [1, 2, 3]));
        var committed = await writer.CommitAsync(fsync: false);
        var e = Assert.Throws<GridException>(() => Append(writer, TestBatches.Make(0, 0, 1, [4])));
        Assert.Equal(GridErrorCode.PartitionCommitted, e.Code);
        Assert.Equal(1, writer.Batches);
        Assert.Equal(committed.Bytes, new FileInfo(writer.Path).Length);
    }

    [Fact]
    public async Task A_corrupt_batch_is_refused_and_not_stored()
    {
        using var writer = NewWriter();
        var good1 = TestBatches.Make(0, 0, 0, TestBatches.Payload(100, 1));
        var bad = TestBatches.Make(0, 0, 1, TestBatches.Payload(100, 2));
        bad[^1] ^= 0xFF;
        var good2 = TestBatches.Make(0, 0, 2, TestBatches.Payload(50, 3));

        Append(writer, good1);
        var e = Assert.Throws<GridException>(() => Append(writer, bad));
        Assert.Equal(GridErrorCode.ChecksumMismatch, e.Code);
        Assert.Equal(1, writer.Batches);
        Assert.Equal(good1.Length, writer.Length);
        Append(writer, good2);

        var committed = await writer.CommitAsync(fsync: false);
        Assert.Equal(2, committed.BatchCount);
        Assert.Equal(good1.Concat(good2).ToArray(), await File.ReadAllBytesAsync(writer.Path));
        Assert.Equal(TestBatches.ReferenceCrc32C([.. good1, .. good2]), committed.Crc32C);
    }

    [Fact]
    public async Task Reads_before_commit_and_of_missing_chunks_are_refused()
    {
        using var writer = NewWriter();
        Append(writer, TestBatches.Make(0, 0, 0, [1]));
        Assert.Equal(GridErrorCode.NotCommitted, Assert.Throws<GridException>(() => writer.ReadChunk(0, 0, int.MaxValue)).Code);
        var committed = await writer.CommitAsync(fsync: false);
        Assert.Equal(1, committed.ChunkCount);
        Assert.Equal(GridErrorCode.InvalidArgument, Assert.Throws<GridException>(() => writer.ReadChunk(1, 0, int.MaxValue)).Code);
        Assert.Equal(GridErrorCode.InvalidArgument, Assert.Throws<GridException>(() => writer.ReadChunk(-1, 0, int.MaxValue)).Code);
    }

    [Fact]
    public async Task An_empty_partition_commits_to_the_empty_file()
    {
        using var writer = NewWriter();
        var committed = await writer.CommitAsync(fsync: false);
        Assert.Equal(0, committed.Bytes);
        Assert.Equal(0, committed.BatchCount);
        Assert.Equal([0L], committed.ChunkOffsets);
        Assert.Equal(0, committed.ChunkCount);
    }

    [Fact]
    public async Task Delete_removes_the_file_and_later_reads_fail()
    {
        var writer = NewWriter();
        foreach (var batch in VariousBatches(30, seed: 4)) Append(writer, batch);
        await writer.CommitAsync(fsync: false);
        Assert.True(File.Exists(writer.Path));
        await writer.DeleteAsync();
        Assert.False(File.Exists(writer.Path));
        Assert.Equal(GridErrorCode.UnknownPartition, Assert.Throws<GridException>(() => writer.ReadChunk(0, 0, int.MaxValue)).Code);
        Assert.Contains(Assert.Throws<GridException>(() => Append(writer, TestBatches.Make(0, 0, 99, [1]))).Code, new[] { GridErrorCode.PartitionCommitted, GridErrorCode.UnknownPartition });
        await writer.DeleteAsync(); // twice is fine
        Assert.Equal(0, _budget.UsedBytes);
    }

    [Fact]
    public async Task Delete_before_commit_drops_buffered_data()
    {
        var writer = NewWriter();
        foreach (var batch in VariousBatches(50, seed: 5)) Append(writer, batch);
        await writer.DeleteAsync();
        Assert.False(File.Exists(writer.Path));
        Assert.Equal(0, _budget.UsedBytes);
    }

    [Fact]
    public async Task Appends_hold_memory_budget_until_the_disk_has_the_data()
    {
        var budget = new MemoryBudget(1024L * 1024);
        using var writer = new PartitionFileWriter(_temp.Combine("budget.data"), _flusher, budget, FlushBufferBytes, ChunkBytes);
        Append(writer, TestBatches.Make(0, 0, 0, TestBatches.Payload(100, 1)));
        Assert.True(budget.UsedBytes >= FlushBufferBytes, $"{budget.UsedBytes} bytes counted for an open buffer");
        await writer.CommitAsync(fsync: false);
        Assert.Equal(0, budget.UsedBytes);
    }

    /// <summary>
    /// A writer whose disk flusher has stopped (silo shutdown) must fail its commit with a
    /// GridException (StorageFailure), as DiskFlusher.Enqueue intends, and not hang or leak a raw
    /// InvalidOperationException.
    /// </summary>
    [Fact]
    public async Task Commit_after_the_flusher_stopped_fails_with_StorageFailure()
    {
        var flusher = new DiskFlusher("stopped", _ => { });
        flusher.Dispose();
        // Not disposed: with the flusher gone, disposing would wait for a flush that never completes.
        var writer = new PartitionFileWriter(_temp.Combine("stopped.data"), flusher, _budget, FlushBufferBytes, ChunkBytes);
        Append(writer, TestBatches.Make(0, 0, 0, TestBatches.Payload(100, 1)));

        var first = await Record.ExceptionAsync(() => writer.CommitAsync(fsync: false).WaitAsync(TimeSpan.FromSeconds(10)));
        var e = Assert.IsType<GridException>(first);
        Assert.Equal(GridErrorCode.StorageFailure, e.Code);
        // A retried commit reports the same failure instead of waiting forever for a flush that never comes.
        var second = await Record.ExceptionAsync(() => writer.CommitAsync(fsync: false).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(GridErrorCode.StorageFailure, Assert.IsType<GridException>(second).Code);
    }
    [Fact]
    public async Task A_chunk_opened_in_place_reads_the_same_bytes_as_a_copied_chunk_and_outlives_a_delete()
    {
        var writer = NewWriter();
        foreach (var batch in VariousBatches(120, seed: 7)) Append(writer, batch);
        var committed = await writer.CommitAsync(fsync: false);
        Assert.True(committed.ChunkCount > 2);

        for (int c = 0; c < committed.ChunkCount; c++)
        {
            var (copied, length) = writer.ReadChunk(c, 0, int.MaxValue);
            using var chunk = writer.OpenChunk(c);
            Assert.Equal(length, chunk.Length);
            var inPlace = new byte[chunk.Length];
            // In two reads at an offset, as the responder reads slices.
            int half = inPlace.Length / 2;
            chunk.ReadExactly(inPlace.AsSpan(0, half), 0);
            chunk.ReadExactly(inPlace.AsSpan(half), half);
            Assert.Equal(copied.AsSpan(0, length).ToArray(), inPlace);
            ArrayPool<byte>.Shared.Return(copied);
            Assert.Throws<ArgumentOutOfRangeException>(() => chunk.ReadExactly(new byte[2], chunk.Length - 1));
        }

        // A chunk being sent when its partition is deleted still reads to its end; then it is gone.
        var open = writer.OpenChunk(0);
        await writer.DeleteAsync();
        Assert.False(File.Exists(writer.Path));
        var rest = new byte[open.Length];
        open.ReadExactly(rest, 0);
        open.Dispose();
        Assert.Throws<ObjectDisposedException>(() => open.ReadExactly(rest, 0));
        var deleted = Assert.Throws<GridException>(() => writer.OpenChunk(0));
        Assert.Equal(GridErrorCode.UnknownPartition, deleted.Code);
        Assert.Equal(GridErrorCode.InvalidArgument, Assert.Throws<GridException>(() => NewCommittedChunkOutOfRange()).Code);
    }

    private ChunkReader NewCommittedChunkOutOfRange()
    {
        var writer = NewWriter("p1-0.data");
        Append(writer, VariousBatches(3, seed: 9)[1]);
        writer.CommitAsync(fsync: false).GetAwaiter().GetResult();
        return writer.OpenChunk(5);
    }
}

public class MemoryBudgetTests
{
    [Fact]
    public async Task Pauses_at_the_limit_and_resumes_below_70_percent()
    {
        var budget = new MemoryBudget(1000);
        Assert.True(budget.WaitUntilAcceptingAsync(CancellationToken.None).IsCompletedSuccessfully);
        budget.Add(1000);
        Assert.True(budget.IsPaused);
        var wait = budget.WaitUntilAcceptingAsync(CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);
        Assert.Equal(1, budget.PauseCount);

        budget.Release(200); // 800: below the limit, above the resume mark
        Assert.False(budget.IsPaused);
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);

        budget.Release(150); // 650 < 700
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(650, budget.UsedBytes);
    }

    [Fact]
    public async Task A_paused_wait_can_be_cancelled()
    {
        var budget = new MemoryBudget(100);
        budget.Add(150);
        using var cancel = new CancellationTokenSource();
        var wait = budget.WaitUntilAcceptingAsync(cancel.Token).AsTask();
        Assert.False(wait.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Many_waiters_all_resume()
    {
        var budget = new MemoryBudget(100);
        budget.Add(100);
        var waits = Enumerable.Range(0, 10).Select(_ => budget.WaitUntilAcceptingAsync(CancellationToken.None).AsTask()).ToList();
        Assert.All(waits, w => Assert.False(w.IsCompleted));
        budget.Release(100);
        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(5));
    }

}
