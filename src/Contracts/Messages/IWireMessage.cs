using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>A message body with its layout: how to write it and how to read it back.</summary>
public interface IWireMessage<TSelf> where TSelf : IWireMessage<TSelf>
{
    void Write(WireWriter writer);

    static abstract TSelf Read(ref WireReader reader);
}

/// <summary>Reading a whole body as one message.</summary>
public static class WireMessage
{
    /// <summary>Decodes the whole of <paramref name="body"/> as <typeparamref name="T"/>; trailing bytes are malformed.</summary>
    public static T ReadWhole<T>(ReadOnlySequence<byte> body) where T : IWireMessage<T>
    {
        var reader = new WireReader(body);
        var value = T.Read(ref reader);
        reader.EnsureEnd();
        return value;
    }
}

/// <summary>An empty body, for requests and replies that carry nothing.</summary>
public readonly record struct Empty : IWireMessage<Empty>
{
    public void Write(WireWriter writer) { }

    public static Empty Read(ref WireReader reader) => default;
}
