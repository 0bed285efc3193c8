using Orleans.Shuffle.Job.Tasks;

namespace Orleans.Shuffle.Job.Executors;

/// <summary>A task failed, timed out, or its executor died; the message says which and why.</summary>
public sealed class TaskFailedException(string message, TaskError? error = null) : Exception(message)
{
    /// <summary>The grid error the task reported on an ERROR line, if it did.</summary>
    public TaskError? Error { get; } = error;
}

/// <summary>The driver killed the task's executor on purpose (a lost executor, --kill-mapper): the task is to be rerun, not the job failed.</summary>
public sealed class ExecutorKilledException(string message) : Exception(message);
