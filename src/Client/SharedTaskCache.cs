using System.Collections.Concurrent;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Caches one load per key, shared by every caller in the process: a thousand readers of one
/// shuffle ask for its file group once. A load that fails is forgotten, so the next caller asks
/// again. Loads run on the cache's own token; each caller's token only stops its own wait.
/// </summary>
internal sealed class SharedTaskCache<TKey, TValue> where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Lazy<Task<TValue>>> _entries = new();

    public Task<TValue> GetOrLoadAsync(TKey key, Func<TKey, Task<TValue>> load, CancellationToken cancellationToken)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            Lazy<Task<TValue>>? created = null;
            created = new Lazy<Task<TValue>>(() => LoadAndForgetFailureAsync(key, load, created!));
            entry = _entries.GetOrAdd(key, created);
        }
        return entry.Value.WaitAsync(cancellationToken);
    }

    /// <summary>Stores a value the caller obtained itself (a fresh answer replaces a cached one).</summary>
    public void Set(TKey key, TValue value) =>
        _entries[key] = new Lazy<Task<TValue>>(Task.FromResult(value));

    /// <summary>The value of a load that completed successfully; false while loading, after a failure, or with no entry.</summary>
    public bool TryGetLoaded(TKey key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out TValue value)
    {
        value = default;
        if (!_entries.TryGetValue(key, out var entry) || !entry.IsValueCreated) return false;
        var task = entry.Value;
        if (!task.IsCompletedSuccessfully) return false;
        value = task.Result;
        return true;
    }

    public void Remove(TKey key) => _entries.TryRemove(key, out _);

    /// <summary>Removes the entries whose key matches; bounded by the number of entries.</summary>
    public void RemoveWhere(Func<TKey, bool> match)
    {
        foreach (var key in _entries.Keys)
        {
            if (match(key)) _entries.TryRemove(key, out _);
        }
    }

    private async Task<TValue> LoadAndForgetFailureAsync(TKey key, Func<TKey, Task<TValue>> load, Lazy<Task<TValue>> entry)
    {
        try
        {
            return await load(key).ConfigureAwait(false);
        }
        catch
        {
            // Remove only this entry: a newer one may already have replaced it.
            _entries.TryRemove(new KeyValuePair<TKey, Lazy<Task<TValue>>>(key, entry));
            throw;
        }
    }
}
