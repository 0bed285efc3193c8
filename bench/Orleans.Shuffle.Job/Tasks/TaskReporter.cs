using System.Diagnostics;
using Orleans.Shuffle.Job.Executors;

namespace Orleans.Shuffle.Job.Tasks;

/// <summary>How a running task tells the driver how far it is: progress at most a few times a second, and its pause points.</summary>
internal sealed class TaskReporter(string taskId, PauseSettings pause)
{
    private static readonly long Interval = Stopwatch.Frequency / 5;

    private readonly PausePoint _pause = pause.ToPausePoint();
    private long _last = Stopwatch.GetTimestamp();

    public string TaskId { get; } = taskId;

    /// <summary>Reports <paramref name="bytes"/> if the last report is old enough.</summary>
    public void Tick(long bytes)
    {
        long now = Stopwatch.GetTimestamp();
        if (now - _last < Interval) return;
        _last = now;
        ExecutorProtocol.WriteProgress(TaskId, bytes);
    }

    public void Progress(long bytes) => ExecutorProtocol.WriteProgress(TaskId, bytes);

    /// <summary>Pauses here if the task has reached its pause point (see <see cref="PausePoint"/>).</summary>
    public ValueTask PauseIfDueAsync(long bytes, CancellationToken ct) =>
        _pause.Due(bytes) ? new ValueTask(_pause.PauseAsync(TaskId, bytes, ct)) : ValueTask.CompletedTask;
}

/// <summary>
/// A fault-injection pause point of a task (see <see cref="StageGate"/>): once the task has handled
/// <c>atBytes</c> bytes it says PAUSED and waits until the resume file exists (the driver creates it
/// after its fault) or its executor is killed; after <c>maxWait</c> it goes on by itself so a lost
/// driver never leaves it hanging. Without a pause point it does nothing.
/// </summary>
internal sealed class PausePoint(long? atBytes, string? resumeFile, TimeSpan maxWait)
{
    private bool _passed = atBytes is null;

    /// <summary>True the first time <paramref name="bytes"/> reaches the pause point: call <see cref="PauseAsync"/> then.</summary>
    public bool Due(long bytes) => !_passed && bytes >= atBytes!.Value;

    public async Task PauseAsync(string taskId, long bytes, CancellationToken ct)
    {
        _passed = true;
        ExecutorProtocol.WritePaused(taskId, bytes);
        var clock = Stopwatch.StartNew();
        // Bounded by maxWait.
        while (resumeFile is null || !File.Exists(resumeFile))
        {
            if (clock.Elapsed >= maxWait)
            {
                Console.Error.WriteLine($"{taskId} paused at {bytes} bytes for {maxWait.TotalSeconds:0} s without being resumed; going on.");
                return;
            }
            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }
}

/// <summary>A grid error that happened while a task handled some partitions; the ERROR line names them.</summary>
internal sealed class PartitionTaskException(IReadOnlyList<int> partitions, Wire.GridException inner)
    : Exception($"partition {string.Join(",", partitions)}: {inner.Message}", inner)
{
    public IReadOnlyList<int> Partitions { get; } = partitions;

    public Wire.GridException Grid { get; } = inner;
}
