using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.Shuffle.FileStore;

/// <summary>
/// A JSON document in a file that several processes on one machine read and change safely. A change
/// holds an exclusive lock file (flock on Linux, a share-none open elsewhere) while it reads the
/// document, lets the caller change it, and replaces the file by renaming a new one over it; a read
/// takes no lock, because a rename is atomic: it sees the old document or the new one, never a mix.
/// The lock is the operating system's, so it goes with the process that held it: no process owns
/// the file, and any may die at any point without leaving it locked or half written.
/// </summary>
public sealed class LockedJsonFile<T> where T : class
{
    /// <summary>How the documents of every File provider are written.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The longest pause between two attempts to take the lock.</summary>
    private static readonly TimeSpan MaxLockPoll = TimeSpan.FromMilliseconds(20);

    private readonly Func<T> _create;
    private readonly TimeSpan _lockTimeout;
    private readonly TimeProvider _time;

    /// <param name="path">The document's file.</param>
    /// <param name="create">The document when the file does not exist.</param>
    /// <param name="lockTimeout">How long a change waits for the lock before it fails.</param>
    /// <param name="lockPath">The lock file; default the document's path + ".lock". Documents may share one.</param>
    public LockedJsonFile(string path, Func<T> create, TimeSpan lockTimeout, string? lockPath = null, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(create);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lockTimeout, TimeSpan.Zero);
        Path = System.IO.Path.GetFullPath(path);
        LockPath = System.IO.Path.GetFullPath(lockPath ?? path + ".lock");
        _create = create;
        _lockTimeout = lockTimeout;
        _time = time ?? TimeProvider.System;
    }

    public string Path { get; }

    public string LockPath { get; }

    /// <summary>
    /// Runs <paramref name="change"/> on the document (or a new one) under the lock; it returns its
    /// result and what to do with the file. Throws <see cref="TimeoutException"/> when the lock stays taken.
    /// </summary>
    public async Task<TResult> UpdateAsync<TResult>(Func<T, (TResult Result, FileChange Change)> change, CancellationToken cancellationToken = default)
    {
        using var held = await AcquireLockAsync(cancellationToken).ConfigureAwait(false);
        var document = await TryReadAsync(cancellationToken).ConfigureAwait(false) ?? _create();
        var (result, what) = change(document);
        switch (what)
        {
            case FileChange.Write:
                string temp = Path + ".tmp";
                await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    await JsonSerializer.SerializeAsync(stream, document, Json, cancellationToken).ConfigureAwait(false);
                }
                File.Move(temp, Path, overwrite: true);
                break;
            case FileChange.Delete:
                File.Delete(Path);
                break;
        }
        return result;
    }

    /// <summary>Reads the document without the lock (see the class remarks); a new one when the file does not exist.</summary>
    public async Task<T> ReadAsync(CancellationToken cancellationToken = default) =>
        await TryReadAsync(cancellationToken).ConfigureAwait(false) ?? _create();

    private async Task<T?> TryReadAsync(CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 64 * 1024, useAsync: true);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                return await JsonSerializer.DeserializeAsync<T>(stream, Json, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"{Path} holds no document (null).");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{Path} is not a valid document: {e.Message} Move it away to start afresh.", e);
            }
        }
    }

    private async Task<FileStream> AcquireLockAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(LockPath)!);
        var deadline = _time.GetUtcNow() + _lockTimeout;
        // Bounded by the deadline; each round waits at least 1 ms.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(attempt, MaxLockPoll.TotalMilliseconds)), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new TimeoutException($"Could not lock {LockPath} within {_lockTimeout.TotalSeconds:0.#} s: another process holds it (a hung silo?).", e);
            }
        }
    }
}
