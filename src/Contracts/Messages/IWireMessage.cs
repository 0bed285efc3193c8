using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>A message body with its layout: how to write it and how to read it back.</summary>
public interface IWireMessage<TSelf> where TSelf : IWireMessage<TSelf>
{
    void Write(WireWriter writer);

    static abstract TSelf Read(ref WireReader reader);
}

/// <summary>An empty body, for requests and replies that carry nothing.</summary>
public readonly record struct Empty : IWireMessage<Empty>
{
    public void Write(WireWriter writer) { }

    public static Empty Read(ref WireReader reader) => default;
}
