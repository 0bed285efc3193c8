using System.Globalization;
using System.Text.Json;
using Orleans.Shuffle.Job.Tasks;

namespace Orleans.Shuffle.Job.Executors;

/// <summary>
/// The line protocol between the driver and an executor process. The driver writes
/// <c>TASK &lt;json&gt;</c> (a <see cref="ExecutorTask"/>) to the executor's stdin, and closes stdin to
/// stop it. The executor prints on stdout <c>READY</c> once its grid client is connected, then per
/// task <c>PROGRESS &lt;id&gt; &lt;bytes&gt;</c> (cumulative) any number of times, <c>PAUSED &lt;id&gt; &lt;bytes&gt;</c>
/// at a fault-injection pause, and exactly one of <c>RESULT &lt;id&gt; &lt;json&gt;</c>,
/// <c>ERROR &lt;id&gt; &lt;json&gt;</c> (a <see cref="TaskError"/>: the grid said what failed) or
/// <c>FAILED &lt;id&gt; &lt;message&gt;</c>. Every other line is free-form and only logged, so log output
/// that reaches stdout cannot confuse the driver.
/// </summary>
internal static class ExecutorProtocol
{
    public const string Ready = "READY";
    public const string TaskPrefix = "TASK ";
    public const string ProgressPrefix = "PROGRESS ";
    public const string PausedPrefix = "PAUSED ";
    public const string ResultPrefix = "RESULT ";
    public const string ErrorPrefix = "ERROR ";
    public const string FailedPrefix = "FAILED ";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly Lock StdoutLock = new();

    public static string FormatTask(ExecutorTask task) => TaskPrefix + JsonSerializer.Serialize(task, Json);

    public static ExecutorTask? TryParseTask(string line) =>
        line.StartsWith(TaskPrefix, StringComparison.Ordinal) ? JsonSerializer.Deserialize<ExecutorTask>(line.AsSpan(TaskPrefix.Length), Json) : null;

    public static void WriteReady() => Write(Ready);

    public static void WriteProgress(string taskId, long bytes) => Write($"{ProgressPrefix}{taskId} {bytes.ToString(CultureInfo.InvariantCulture)}");

    public static void WritePaused(string taskId, long bytes) => Write($"{PausedPrefix}{taskId} {bytes.ToString(CultureInfo.InvariantCulture)}");

    public static void WriteResult<T>(string taskId, T result) => Write($"{ResultPrefix}{taskId} {JsonSerializer.Serialize(result, Json)}");

    public static void WriteError(string taskId, TaskError error) => Write($"{ErrorPrefix}{taskId} {JsonSerializer.Serialize(error, Json)}");

    /// <summary>A failure the grid did not name; one line, so the message is flattened.</summary>
    public static void WriteFailed(string taskId, string message) => Write($"{FailedPrefix}{taskId} {message.ReplaceLineEndings(" | ")}");

    /// <summary>An executor's line, split: its kind (a prefix above, or null for free-form), the task id and the rest.</summary>
    public static (string? Kind, string TaskId, string Text) Parse(string line)
    {
        if (line == Ready) return (Ready, "", "");
        foreach (string prefix in (ReadOnlySpan<string>)[ProgressPrefix, PausedPrefix, ResultPrefix, ErrorPrefix, FailedPrefix])
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ', prefix.Length);
            return space < 0 ? (prefix, line[prefix.Length..], "") : (prefix, line[prefix.Length..space], line[(space + 1)..]);
        }
        return (null, "", line);
    }

    public static bool TryParseCount(string text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>Writes a protocol line whole and at once; tasks of one executor write concurrently.</summary>
    private static void Write(string line)
    {
        lock (StdoutLock)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }
}
