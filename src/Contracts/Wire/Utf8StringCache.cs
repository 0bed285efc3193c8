using System.Text;

namespace Orleans.Shuffle.Wire;

/// <summary>
/// The last few strings a connection read, by their UTF-8 bytes: a string field that repeats (the
/// app id of every push) is compared byte by byte and the cached string returned, instead of a new
/// string per frame. For one reader at a time (a connection's read loop); not thread-safe.
/// </summary>
public sealed class Utf8StringCache
{
    private const int Entries = 4;
    private readonly byte[][] _bytes = new byte[Entries][];
    private readonly string[] _strings = new string[Entries];
    private int _next;

    public string Get(ReadOnlySpan<byte> utf8)
    {
        for (int i = 0; i < Entries; i++)
        {
            if (_strings[i] is { } cached && utf8.SequenceEqual(_bytes[i])) return cached;
        }
        string value = Encoding.UTF8.GetString(utf8);
        // Round robin: a connection carries one or a few applications, so eviction is rare.
        _bytes[_next] = utf8.ToArray();
        _strings[_next] = value;
        _next = (_next + 1) % Entries;
        return value;
    }
}
