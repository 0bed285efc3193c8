using System.Buffers;
using System.Text;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

/// <summary>The silo's per-connection cache of app ids: the same bytes give the same string object, other bytes their own string.</summary>
public class Utf8StringCacheTests
{
    [Fact]
    public void Repeated_bytes_return_the_cached_string_and_different_bytes_their_own()
    {
        var cache = new Utf8StringCache();
        var first = cache.Get("app-1"u8);
        Assert.Equal("app-1", first);
        Assert.Same(first, cache.Get(Encoding.UTF8.GetBytes("app-1")));
        Assert.Equal("app-2", cache.Get("app-2"u8));
        Assert.Equal("app-", cache.Get("app-"u8));
        Assert.Equal("ü-app", cache.Get(Encoding.UTF8.GetBytes("ü-app")));
        Assert.Same(first, cache.Get("app-1"u8));
    }

    [Fact]
    public void More_ids_than_entries_are_still_read_correctly()
    {
        var cache = new Utf8StringCache();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 10; i++) Assert.Equal($"app-{i}", cache.Get(Encoding.UTF8.GetBytes($"app-{i}")));
        }
    }

    [Fact]
    public void A_push_header_read_through_the_cache_is_the_same_header()
    {
        var cache = new Utf8StringCache();
        using var body = new PooledBufferWriter();
        PushData.WriteHeader(new WireWriter(body), "app-7", 3, 0);
        for (int i = 0; i < 2; i++)
        {
            var reader = new WireReader(new ReadOnlySequence<byte>(body.WrittenMemory));
            Assert.Equal(("app-7", 3, 0), PushData.ReadHeader(ref reader, cache));
        }
    }
}
