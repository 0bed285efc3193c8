using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Orleans.Shuffle.Job;

/// <summary>What a stage will do, to size its progress bar.</summary>
internal sealed record StagePlan(string Name, int Tasks, long TotalBytes);

/// <summary>Progress of one stage; called from many executor output pumps at once.</summary>
internal interface IStageProgress
{
    void Begin();

    void AddBytes(long bytes);

    void TaskFinished();

    void End();
}

/// <summary>
/// Everything the job prints. Progress bars when a person is watching a terminal; plain,
/// greppable lines when output goes to a file or CI log (or with --no-progress), because
/// redrawn bars turn into noise there.
/// </summary>
internal abstract class JobConsole
{
    public static JobConsole Create(bool noProgress)
    {
        bool interactive = !noProgress
            && !Console.IsOutputRedirected
            && AnsiConsole.Profile.Capabilities.Interactive
            && AnsiConsole.Profile.Capabilities.Ansi;
        return interactive ? new SpectreJobConsole() : new PlainJobConsole();
    }

    public abstract void Info(string message);

    /// <summary>Runs <paramref name="stages"/> with progress for the map and reduce stages.</summary>
    public abstract Task RunStagesAsync(StagePlan map, StagePlan reduce, Func<IStageProgress, IStageProgress, Task> stages);

    public abstract void Summary(JobReport report);

    public void Error(string message) => Console.Error.WriteLine($"error: {message}");

    protected static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

internal sealed class PlainJobConsole : JobConsole
{
    private readonly Lock _lock = new();

    public override void Info(string message)
    {
        lock (_lock) Console.Out.WriteLine(message);
    }

    public override Task RunStagesAsync(StagePlan map, StagePlan reduce, Func<IStageProgress, IStageProgress, Task> stages) =>
        stages(new PlainStageProgress(map, Info), new PlainStageProgress(reduce, Info));

    public override void Summary(JobReport report)
    {
        lock (_lock)
        {
            Console.Out.WriteLine();
            foreach (var (label, value) in report.SummaryLines()) Console.Out.WriteLine($"{label,-13}{value}");
        }
    }

    /// <summary>A line per finished task, and a heartbeat line every few seconds so long stages do not look hung.</summary>
    private sealed class PlainStageProgress(StagePlan plan, Action<string> write) : IStageProgress
    {
        private static readonly long HeartbeatTicks = Stopwatch.Frequency * 10;

        private readonly Stopwatch _clock = new();
        private long _bytes;
        private int _tasksDone;
        private long _lastLine;

        public void Begin()
        {
            _clock.Start();
            _lastLine = Stopwatch.GetTimestamp();
            write(Invariant($"{plan.Name} stage: {plan.Tasks} tasks, {SizeParser.Format(plan.TotalBytes)}"));
        }

        public void AddBytes(long bytes)
        {
            long total = Interlocked.Add(ref _bytes, bytes);
            long now = Stopwatch.GetTimestamp();
            long last = Interlocked.Read(ref _lastLine);
            if (now - last >= HeartbeatTicks && Interlocked.CompareExchange(ref _lastLine, now, last) == last)
                write(Invariant($"{plan.Name} stage: {Percent(total)}% ({SizeParser.Format(total)}), {Volatile.Read(ref _tasksDone)}/{plan.Tasks} tasks done"));
        }

        public void TaskFinished()
        {
            int done = Interlocked.Increment(ref _tasksDone);
            Interlocked.Exchange(ref _lastLine, Stopwatch.GetTimestamp());
            write(Invariant($"{plan.Name} stage: {done}/{plan.Tasks} tasks done ({SizeParser.Format(Interlocked.Read(ref _bytes))})"));
        }

        public void End() =>
            write(Invariant($"{plan.Name} stage: finished in {_clock.Elapsed.TotalSeconds:0.00} s"));

        private long Percent(long bytes) => plan.TotalBytes > 0 ? Math.Min(100, bytes * 100 / plan.TotalBytes) : 100;
    }
}

internal sealed class SpectreJobConsole : JobConsole
{
    public override void Info(string message) => AnsiConsole.MarkupLine(Markup.Escape(message));

    public override Task RunStagesAsync(StagePlan map, StagePlan reduce, Func<IStageProgress, IStageProgress, Task> stages) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn(),
                new PercentageColumn(),
                new DownloadedColumn { Culture = CultureInfo.InvariantCulture },
                new TransferSpeedColumn { Culture = CultureInfo.InvariantCulture },
                new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                // Both bars exist from the start so the reduce stage is visibly waiting its turn.
                var mapTask = context.AddTask(Describe(map, 0), autoStart: false, maxValue: Math.Max(1, map.TotalBytes));
                var reduceTask = context.AddTask(Describe(reduce, 0), autoStart: false, maxValue: Math.Max(1, reduce.TotalBytes));
                await stages(new SpectreStageProgress(map, mapTask), new SpectreStageProgress(reduce, reduceTask)).ConfigureAwait(false);
            });

    public override void Summary(JobReport report)
    {
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        foreach (var (label, value) in report.SummaryLines())
        {
            string shown = Markup.Escape(value);
            if (label == "result") shown = report.Verified ? $"[bold green]{shown}[/]" : $"[bold red]{shown}[/]";
            grid.AddRow(new Markup($"[grey]{Markup.Escape(label)}[/]"), new Markup(shown));
        }
        AnsiConsole.WriteLine();
        AnsiConsole.Write(grid);
    }

    private static string Describe(StagePlan plan, int done) => Invariant($"{plan.Name,-6} {done}/{plan.Tasks} tasks");

    private sealed class SpectreStageProgress(StagePlan plan, ProgressTask task) : IStageProgress
    {
        private int _tasksDone;

        public void Begin() => task.StartTask();

        public void AddBytes(long bytes) => task.Increment(bytes);

        public void TaskFinished()
        {
            int done = Interlocked.Increment(ref _tasksDone);
            task.Description = Describe(plan, done);
        }

        public void End() => task.StopTask();
    }
}
