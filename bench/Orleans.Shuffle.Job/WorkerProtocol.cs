using System.Globalization;
using System.Text.Json;

namespace Orleans.Shuffle.Job;

/// <summary>One partition's records as a worker saw them; the checksum travels as hex (see <see cref="PartitionChecksum.SumHex"/>).</summary>
public sealed record PartitionTally(int Partition, long Records, long Bytes, string Checksum)
{
    public static PartitionTally From(int partition, PartitionChecksum checksum) =>
        new(partition, checksum.Records, checksum.Bytes, checksum.SumHex);

    public PartitionChecksum ToChecksum() => new(Records, Bytes, PartitionChecksum.ParseSum(Checksum));
}

/// <summary>What a map task generated (per partition) and what its writer reported.</summary>
public sealed record MapTaskResult(
    int MapId,
    int AttemptId,
    long Records,
    long Bytes,
    bool Won,
    int WinningAttempt,
    bool AllMapsEnded,
    long RecordsWritten,
    long BytesWritten,
    long BatchesPushed,
    long PushRequests,
    double Seconds,
    IReadOnlyList<PartitionTally> Partitions,
    long Revives = 0);

/// <summary>What a reduce task read (per partition) and what its readers reported.</summary>
public sealed record ReduceTaskResult(
    int ReducerId,
    long Records,
    long Bytes,
    long BatchesRead,
    long DuplicateBatchesSkipped,
    long LosingAttemptBatchesSkipped,
    long BytesFetched,
    double Seconds,
    IReadOnlyList<PartitionTally> Partitions,
    long Failovers = 0);

/// <summary>
/// Why a worker failed, when the grid said so: the error code's name, the message, and the
/// partitions the worker was handling (a reducer names the partition it was reading).
/// </summary>
public sealed record WorkerError(string Code, string Message, IReadOnlyList<int> Partitions);

/// <summary>
/// The line protocol between a worker process and the driver, on the worker's stdout:
/// <c>PROGRESS &lt;bytes&gt;</c> (cumulative record bytes so far) any number of times, then exactly
/// one <c>RESULT &lt;json&gt;</c>. A worker told to pause prints <c>PAUSED &lt;bytes&gt;</c> when it
/// does; a worker that fails on a grid error prints <c>ERROR &lt;json&gt;</c> (a <see cref="WorkerError"/>)
/// before it exits non-zero. Every other line is free-form and only logged, so client logging
/// that reaches stdout cannot confuse the driver.
/// </summary>
public static class WorkerProtocol
{
    public const string ProgressPrefix = "PROGRESS ";
    public const string ResultPrefix = "RESULT ";
    public const string PausedPrefix = "PAUSED ";
    public const string ErrorPrefix = "ERROR ";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly Lock StdoutLock = new();

    public static void WriteProgress(long bytes)
    {
        lock (StdoutLock) Console.Out.WriteLine(ProgressPrefix + bytes.ToString(CultureInfo.InvariantCulture));
    }

    public static void WritePaused(long bytes) => WriteFlushed(PausedPrefix + bytes.ToString(CultureInfo.InvariantCulture));

    public static void WriteError(WorkerError error) => WriteFlushed(ErrorPrefix + JsonSerializer.Serialize(error, Json));

    public static bool TryParsePaused(string line, out long bytes) => TryParseCount(line, PausedPrefix, out bytes);

    /// <summary>The error of an ERROR line; null if the line is not one or does not parse (it is then only logged).</summary>
    public static WorkerError? TryParseError(string line)
    {
        if (!line.StartsWith(ErrorPrefix, StringComparison.Ordinal)) return null;
        try
        {
            return JsonSerializer.Deserialize<WorkerError>(line.AsSpan(ErrorPrefix.Length), Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static void WriteResult<T>(T result) => WriteFlushed(ResultPrefix + JsonSerializer.Serialize(result, Json));

    public static bool TryParseProgress(string line, out long bytes) => TryParseCount(line, ProgressPrefix, out bytes);

    /// <summary>Writes a protocol line the driver waits for, whole and at once.</summary>
    private static void WriteFlushed(string line)
    {
        lock (StdoutLock)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    private static bool TryParseCount(string line, string prefix, out long value)
    {
        value = 0;
        return line.StartsWith(prefix, StringComparison.Ordinal)
            && long.TryParse(line.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    public static T ParseResult<T>(string json, string workerName) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json)
                ?? throw new WorkerFailedException($"{workerName} printed an empty RESULT.");
        }
        catch (JsonException e)
        {
            throw new WorkerFailedException($"{workerName} printed a RESULT line that is not valid JSON: {e.Message}");
        }
    }
}

/// <summary>A worker process failed, timed out or broke the line protocol; the message says which and why.</summary>
public sealed class WorkerFailedException(string message, WorkerError? error = null) : Exception(message)
{
    /// <summary>The grid error the worker reported on an ERROR line, if it did.</summary>
    public WorkerError? Error { get; } = error;
}

/// <summary>The driver killed this worker on purpose (--kill-mapper); the task is to be rerun, not the job failed.</summary>
public sealed class WorkerKilledException(string message) : Exception(message);
