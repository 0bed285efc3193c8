namespace Orleans.Shuffle.Job;

/// <summary>
/// Makes a fault land at a known point of a stage. Every task of the stage is told to pause once
/// it has handled a fraction of its bytes (its executor prints PAUSED and the task waits for the
/// resume file); when every running task has paused, the gate runs its action once (kill -9 a silo),
/// then creates the resume file so the tasks go on against the damaged grid. Tasks started after
/// that run without a pause. Without the gate a small stage is over before its first progress line, and the
/// kill would find nothing in flight.
/// </summary>
internal sealed class StageGate
{
    private readonly Lock _lock = new();
    private readonly Func<Task> _action;
    private readonly double _fraction;
    private int _running;
    private int _paused;
    private Task? _fired;

    public StageGate(double fraction, string resumeFile, Func<Task> action)
    {
        _fraction = fraction;
        ResumeFile = resumeFile;
        _action = action;
        // A file left over from an earlier run in the same work directory would open the gate at once.
        File.Delete(resumeFile);
    }

    public string ResumeFile { get; }

    public bool Fired
    {
        get
        {
            lock (_lock) return _fired is not null;
        }
    }

    /// <summary>The byte count at which a task that will handle <paramref name="taskBytes"/> pauses; null once the gate has fired.</summary>
    public long? PausePointFor(long taskBytes)
    {
        lock (_lock)
        {
            return _fired is null ? (long)Math.Floor(taskBytes * _fraction) : null;
        }
    }

    public void TaskStarted()
    {
        lock (_lock) _running++;
    }

    public void TaskPaused()
    {
        lock (_lock)
        {
            _paused++;
            FireIfAllPaused();
        }
    }

    public void TaskEnded(bool paused)
    {
        lock (_lock)
        {
            _running--;
            if (paused && _fired is null) _paused--;
            FireIfAllPaused();
        }
    }

    /// <summary>
    /// Waits for the action, rethrowing its failure. A gate that never fired (its stage ended
    /// without every task reaching the pause point) did nothing: returns false.
    /// </summary>
    public async Task<bool> CompleteAsync()
    {
        Task? fired;
        lock (_lock) fired = _fired;
        if (fired is null) return false;
        await fired.ConfigureAwait(false);
        return true;
    }

    private void FireIfAllPaused()
    {
        if (_fired is not null || _running == 0 || _paused < _running) return;
        _fired = Task.Run(async () =>
        {
            try
            {
                await _action().ConfigureAwait(false);
            }
            finally
            {
                // Resume the tasks even when the action failed: the stage then ends and the failure is reported.
                await File.WriteAllTextAsync(ResumeFile, "resume").ConfigureAwait(false);
            }
        });
    }
}
