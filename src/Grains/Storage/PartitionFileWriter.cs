using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// The file of one partition epoch: batches appended back to back, in arrival order.
/// Appends copy into pieces of the silo's memory budget (<see cref="PieceBuffer"/>); once a
/// partition's pending bytes reach its target (an eighth of the flush size at first, doubling up
/// to 256 KiB by default as the partition fills them) they go to the disk's flusher and are written
/// at their offset in one gathered write, so the appender never waits for the disk. While appending it keeps
/// what commit reports: byte count, batch count, a CRC32C of the file, and chunk boundaries (a new
/// chunk starts where the next batch would push the current one past the chunk size, so chunks hold
/// whole batches).
/// </summary>
public sealed class PartitionFileWriter : IDisposable
{
    private readonly object _gate = new();
    private readonly DiskFlusher _flusher;
    private readonly MemoryBudget _budget;
    private readonly int _flushBufferBytes;

    // How full the current buffer gets before it goes to the disk: an eighth of the flush size at
    // first, doubling with every buffer the partition fills. A silo hosting a thousand small
    // partitions then holds a thousand small buffers, not a thousand flush-sized ones.
    private int _bufferTarget;
    private readonly int _chunkBytes;
    private readonly bool _writeback;
    private readonly List<long> _chunkOffsets = [0];
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SafeFileHandle? _handle;
    private PieceBuffer? _buffer;
    private long _bufferFileOffset;
    private long _length;
    private int _batches;
    private uint _crc;
    private int _pendingFlushes;
    private bool _sealed;
    private bool _disposed;
    private Exception? _failure;
    private CommittedFile? _committed;

    public PartitionFileWriter(string path, DiskFlusher flusher, MemoryBudget budget, int flushBufferBytes, int chunkBytes, bool writeback = true)
    {
        _writeback = writeback;
        Path = path;
        _flusher = flusher;
        _budget = budget;
        _flushBufferBytes = flushBufferBytes;
        _bufferTarget = MinBufferBytes(flushBufferBytes);
        _chunkBytes = chunkBytes;
    }

    public string Path { get; }

    private static int MinBufferBytes(int flushBufferBytes) => Math.Max(4096, flushBufferBytes / 8);

    /// <summary>A partition that fills its buffers earns larger ones, up to the flush size.</summary>
    private void GrowBufferTarget() => _bufferTarget = Math.Min(_bufferTarget * 2, _flushBufferBytes);

    public long Length { get { lock (_gate) return _length; } }

    public int Batches { get { lock (_gate) return _batches; } }

    public CommittedFile? Committed { get { lock (_gate) return _committed; } }

    public bool Failed { get { lock (_gate) return _failure is not null; } }

    /// <summary>
    /// Appends one batch (header and payload). The batch is verified against its CRC32C first, and a
    /// corrupt batch is not kept.
    /// </summary>
    public void Append(in ReadOnlySequence<byte> batch, in BatchHeader header)
    {
        int length = header.TotalLength;
        if (batch.Length != length) throw new ArgumentException($"The batch is {batch.Length} bytes; its header says {length}.", nameof(batch));
        lock (_gate)
        {
            // Deleted (its shuffle was unregistered meanwhile) is not committed: the pusher must not take it for a lost attempt.
            if (_disposed) throw new GridException(GridErrorCode.UnknownPartition, $"Partition file {System.IO.Path.GetFileName(Path)} was deleted.");
            if (_sealed) throw new GridException(GridErrorCode.PartitionCommitted, $"Partition file {System.IO.Path.GetFileName(Path)} is already committed.");
            if (_failure is not null) throw new GridException(GridErrorCode.StorageFailure, $"Partition file {System.IO.Path.GetFileName(Path)} failed to write: {_failure.Message}");
            if (!header.Verify(batch))
            {
                throw new GridException(GridErrorCode.ChecksumMismatch,
                    $"Checksum mismatch in batch (map {header.MapId}, attempt {header.AttemptId}, batch {header.BatchId}); the batch was not stored.");
            }
            // A batch that would take the pending bytes past the target goes into the next write.
            if (_buffer is not null && _buffer.Length > 0 && _buffer.Length + length > _bufferTarget)
            {
                GrowBufferTarget();
                SubmitBufferLocked();
            }
            if (_length > _chunkOffsets[^1] && _length - _chunkOffsets[^1] + length > _chunkBytes) _chunkOffsets.Add(_length);
            _buffer ??= _budget.RentBuffer();
            _crc = _buffer.Append(batch, _crc);
            _length += length;
            _batches++;
            if (_buffer.Length >= _bufferTarget)
            {
                SubmitBufferLocked();
                GrowBufferTarget();
            }
        }
    }

    /// <summary>Hands a partly filled buffer to the disk now (memory is short); later appends start a new buffer.</summary>
    public void FlushPartial()
    {
        lock (_gate)
        {
            if (_sealed || _disposed || _failure is not null || _buffer is null || _buffer.Length == 0) return;
            // Memory is short: this partition starts again from small buffers.
            _bufferTarget = MinBufferBytes(_flushBufferBytes);
            try
            {
                SubmitBufferLocked();
            }
            catch (GridException)
            {
                // Recorded in _failure: the next append or commit reports it.
            }
        }
    }

    /// <summary>Flushes, waits for the disk, and records what was written. Idempotent: later calls return the same result.</summary>
    public async Task<CommittedFile> CommitAsync(bool fsync)
    {
        lock (_gate)
        {
            if (_committed is not null) return _committed;
            if (!_sealed)
            {
                _sealed = true;
                try
                {
                    SubmitBufferLocked();
                }
                catch (GridException)
                {
                    // Recorded in _failure; reported below once the queued writes are back.
                }
                if (_pendingFlushes == 0) _drained.TrySetResult();
            }
        }
        await _drained.Task.ConfigureAwait(false);
        lock (_gate)
        {
            if (_committed is not null) return _committed;
            if (_failure is not null)
                throw new GridException(GridErrorCode.StorageFailure, $"Partition file {System.IO.Path.GetFileName(Path)} failed to write: {_failure.Message}");
            if (fsync && _handle is not null)
            {
                try
                {
                    RandomAccess.FlushToDisk(_handle);
                }
                catch (IOException e)
                {
                    // This copy failed, not the commit of every partition: its disk is told once, here, and the other copy serves.
                    _failure = e;
                    _flusher.ReportDiskError(e);
                    throw new GridException(GridErrorCode.StorageFailure, $"Partition file {System.IO.Path.GetFileName(Path)} could not be synced to disk: {e.Message}");
                }
            }
            var offsets = new List<long>(_chunkOffsets);
            if (_length > offsets[^1]) offsets.Add(_length);
            _committed = new CommittedFile(_length, _batches, _crc, [.. offsets]);
            return _committed;
        }
    }

    /// <summary>
    /// Reads chunk <paramref name="chunkIndex"/> of the committed file into a pooled buffer, keeping
    /// only batches of maps in [startMap, endMap). The caller returns the buffer to the shared pool.
    /// </summary>
    public (byte[] Buffer, int Length) ReadChunk(int chunkIndex, int startMap, int endMap)
    {
        using var chunk = OpenChunk(chunkIndex);
        int length = chunk.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            chunk.ReadExactly(buffer.AsSpan(0, length), 0);
            if (startMap > 0 || endMap != int.MaxValue) length = KeepMapRange(buffer.AsSpan(0, length), startMap, endMap);
            return (buffer, length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>
    /// Opens chunk <paramref name="chunkIndex"/> of the committed file for reading in place (a
    /// fetch of every map's batches, served straight from the file). Dispose the reader after the
    /// last read; the file stays open until then even if the partition is deleted meanwhile.
    /// </summary>
    public ChunkReader OpenChunk(int chunkIndex)
    {
        lock (_gate)
        {
            var committed = _committed ?? throw new GridException(GridErrorCode.NotCommitted, $"Partition file {System.IO.Path.GetFileName(Path)} is not committed yet.");
            if (chunkIndex < 0 || chunkIndex >= committed.ChunkCount)
                throw new GridException(GridErrorCode.InvalidArgument, $"Chunk {chunkIndex} does not exist; the partition has {committed.ChunkCount} chunks.");
            if (_disposed || _handle is null) throw new GridException(GridErrorCode.UnknownPartition, "The partition was deleted.");
            long start = committed.ChunkOffsets[chunkIndex];
            int length = checked((int)(committed.ChunkOffsets[chunkIndex + 1] - start));
            return new ChunkReader(_handle, start, length);
        }
    }

    /// <summary>Moves the batches of maps in range to the front of <paramref name="chunk"/>; returns their total length.</summary>
    internal static int KeepMapRange(Span<byte> chunk, int startMap, int endMap)
    {
        int kept = 0;
        var batches = new BatchIterator(chunk, verify: false);
        while (true)
        {
            int offset = batches.Offset;
            if (!batches.MoveNext(out var header, out _)) break;
            if (header.MapId < startMap || header.MapId >= endMap) continue;
            if (offset != kept) chunk.Slice(offset, header.TotalLength).CopyTo(chunk[kept..]);
            kept += header.TotalLength;
        }
        return kept;
    }

    internal static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        int read = 0;
        while (read < destination.Length)
        {
            int n = RandomAccess.Read(handle, destination[read..], offset + read);
            if (n == 0) throw new GridException(GridErrorCode.StorageFailure, "Partition file is shorter than its committed length.");
            read += n;
        }
    }

    /// <summary>Called on the flusher thread.</summary>
    internal void WriteAt(PieceBuffer data, long offset)
    {
        SafeFileHandle handle;
        lock (_gate) handle = _handle ?? throw new ObjectDisposedException(Path);
        data.WriteTo(handle, offset);
        if (_writeback) Writeback.Start(handle, offset, data.Length);
    }

    /// <summary>Called on the flusher thread when a buffer is written or failed.</summary>
    internal void OnFlushed(FlushWork work, Exception? error)
    {
        work.Buffer.Release();
        lock (_gate)
        {
            if (error is not null) _failure ??= error;
            _pendingFlushes--;
            if (_pendingFlushes == 0 && _sealed) _drained.TrySetResult();
        }
    }

    private void SubmitBufferLocked()
    {
        if (_buffer is null) return;
        if (_buffer.Length == 0)
        {
            _buffer.Release();
            _buffer = null;
            return;
        }
        if (_handle is null)
        {
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
                _handle = File.OpenHandle(Path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The buffer stays ours and is dropped: this epoch failed, the replica or a new epoch has the data.
                _failure ??= e;
                _flusher.ReportDiskError(e);
                throw new GridException(GridErrorCode.StorageFailure, $"Cannot create partition file {System.IO.Path.GetFileName(Path)}: {e.Message}");
            }
        }
        _pendingFlushes++;
        var work = new FlushWork(this, _buffer, _bufferFileOffset);
        _bufferFileOffset += _buffer.Length;
        _buffer = null;
        _flusher.Enqueue(work);
    }

    /// <summary>Closes the file and deletes it. Buffers still queued for the disk are dropped when they come back.</summary>
    public async Task DeleteAsync()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _sealed = true;
            if (_pendingFlushes == 0) _drained.TrySetResult();
            _buffer?.Release();
            _buffer = null;
        }
        // Wait briefly for queued writes so the handle is not closed under the flusher; they fail harmlessly if it is.
        try { await _drained.Task.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false); } catch (TimeoutException) { }
        lock (_gate)
        {
            _handle?.Dispose();
            _handle = null;
        }
        try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public void Dispose() => DeleteAsync().GetAwaiter().GetResult();
}
