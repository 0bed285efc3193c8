using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.Shuffle.Storage;

/// <summary>
/// A JSON document in a file that several processes on one machine read and change safely: each
/// operation holds an exclusive lock file (flock on Linux) while it reads the document, lets the
/// caller change it, and replaces the file atomically by rename. The embedded membership table and
/// grain directory are built on it.
/// </summary>
public sealed class LockedJsonFile<T>(string path, Func<T> create, TimeSpan? lockTimeout = null) where T : class
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly TimeSpan _lockTimeout = lockTimeout ?? TimeSpan.FromSeconds(30);

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>Runs <paramref name="change"/> on the document under the lock; it returns its result and whether to write the document back.</summary>
    public async Task<TResult> UpdateAsync<TResult>(Func<T, (TResult Result, bool Write)> change)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        using var lockFile = await AcquireLockAsync().ConfigureAwait(false);
        bool exists = File.Exists(Path);
        var document = exists
            ? JsonSerializer.Deserialize<T>(await File.ReadAllBytesAsync(Path).ConfigureAwait(false), Json)
              ?? throw new InvalidDataException($"{Path} is empty.")
            : create();
        var (result, write) = change(document);
        if (write || !exists)
        {
            string temp = Path + ".tmp";
            await File.WriteAllBytesAsync(temp, JsonSerializer.SerializeToUtf8Bytes(document, Json)).ConfigureAwait(false);
            File.Move(temp, Path, overwrite: true);
        }
        return result;
    }

    /// <summary>Reads the document under the lock without changing it.</summary>
    public Task<TResult> ReadAsync<TResult>(Func<T, TResult> read) => UpdateAsync(document => (read(document), false));

    private async Task<FileStream> AcquireLockAsync()
    {
        var deadline = DateTime.UtcNow + _lockTimeout;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(Path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(Math.Min(1 + attempt, 20)).ConfigureAwait(false);
            }
        }
    }
}
