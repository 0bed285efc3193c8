using System.Text;

namespace Orleans.Shuffle.Placement;

/// <summary>
/// Orleans' HashBased placement: candidates sorted by identity, pick hash(key) mod n. Clients and
/// silos share this function, so a client can send a ShuffleGrain request straight to the silo
/// that hosts the grain, and any silo forwards a request that reached it by mistake.
/// The hash is FNV-1a over UTF-8, stable across processes (string.GetHashCode is not).
/// </summary>
public static class HashBasedPlacement
{
    public static T Pick<T>(string key, IEnumerable<T> candidates, Func<T, string> identity)
    {
        var sorted = candidates.OrderBy(identity, StringComparer.Ordinal).ToList();
        if (sorted.Count == 0) throw new InvalidOperationException("No active silo to place a grain on.");
        return sorted[(int)(StableHash(key) % (uint)sorted.Count)];
    }

    public static uint StableHash(string key)
    {
        uint hash = 2166136261;
        Span<byte> buffer = stackalloc byte[Encoding.UTF8.GetMaxByteCount(Math.Min(key.Length, 256))];
        int length = Encoding.UTF8.GetBytes(key.AsSpan(0, Math.Min(key.Length, 256)), buffer);
        foreach (byte b in buffer[..length])
        {
            hash ^= b;
            hash *= 16777619;
        }
        return hash;
    }
}
