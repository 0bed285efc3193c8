using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>A body passed through unparsed: a gateway forwarding a request, a silo sending a chunk.</summary>
public readonly struct RawBody(ReadOnlySequence<byte> bytes) : IWireMessage<RawBody>
{
    public ReadOnlySequence<byte> Bytes { get; } = bytes;

    public RawBody(ReadOnlyMemory<byte> bytes) : this(new ReadOnlySequence<byte>(bytes)) { }

    public void Write(WireWriter writer) => writer.WriteRaw(Bytes);

    public static RawBody Read(ref WireReader reader) => new(reader.ReadToEnd());
}
