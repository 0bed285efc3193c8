using System.Collections.Concurrent;
using System.Diagnostics;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>Bytes to write at a file offset, and who to tell when they are written.</summary>
internal readonly record struct FlushWork(PartitionFileWriter Target, PieceBuffer Buffer, long FileOffset);

/// <summary>
/// One writer thread per disk. Partition files hand it full buffers; it writes them at their
/// offsets in arrival order. One thread per disk keeps writes to a disk sequential-ish and makes
/// a slow disk slow only the partitions on it. A write that fails with an I/O error is the disk's
/// fault and is reported to it; one that fails because its file was deleted meanwhile (the
/// partition was destroyed with writes still queued) is nobody's, and is only counted.
/// </summary>
public sealed class DiskFlusher : IDisposable
{
    private readonly BlockingCollection<FlushWork> _queue = new();
    private readonly Thread _thread;
    private long _bytesWritten;
    private long _writes;
    private long _failures;
    private long _writeTicks;
    private readonly Action<Exception> _onDiskError;

    /// <summary>An I/O error of this disk outside a queued write (an fsync, a file that could not be made): counted like a failed write.</summary>
    public void ReportDiskError(Exception error) => _onDiskError(error);

    public DiskFlusher(string name, Action<Exception> onDiskError)
    {
        _onDiskError = onDiskError;
        _thread = new Thread(Run) { IsBackground = true, Name = "flusher " + name };
        _thread.Start();
    }

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Writes that failed for any reason, disk errors and writes to deleted files alike.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    public TimeSpan WriteTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _writeTicks));

    public int QueueLength => _queue.Count;

    internal void Enqueue(FlushWork work)
    {
        try
        {
            if (_queue.TryAdd(work)) return;
        }
        catch (InvalidOperationException)
        {
            // The flusher was stopped (CompleteAdding): fall through and fail the write.
        }
        work.Target.OnFlushed(work, new ObjectDisposedException("The disk flusher is stopped."));
    }

    private void Run()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
        {
            long start = Stopwatch.GetTimestamp();
            Exception? error = null;
            try
            {
                work.Target.WriteAt(work.Buffer, work.FileOffset);
                Interlocked.Add(ref _bytesWritten, work.Buffer.Length);
                Interlocked.Increment(ref _writes);
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _failures);
                error = e;
                if (e is IOException or UnauthorizedAccessException) _onDiskError(e);
            }
            Interlocked.Add(ref _writeTicks, Stopwatch.GetTimestamp() - start);
            work.Target.OnFlushed(work, error);
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(30));
    }
}
