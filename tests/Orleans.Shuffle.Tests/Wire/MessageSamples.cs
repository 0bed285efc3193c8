using System.Buffers;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

/// <summary>One sample of a whole-body message, with type-erased write and read, for theories and fuzzing.</summary>
public sealed class MessageCase
{
    public required string Name { get; init; }

    public required MessageType Type { get; init; }

    public required FrameFlags Flags { get; init; }

    /// <summary>The sample's body bytes.</summary>
    public required byte[] Body { get; init; }

    /// <summary>Reads a whole body as this message (trailing bytes are malformed) and returns the message.</summary>
    public required Func<ReadOnlySequence<byte>, object> Read { get; init; }

    /// <summary>Writes a message of this type as body bytes.</summary>
    public required Func<object, byte[]> Write { get; init; }

    /// <summary>Frames the sample as a whole frame with the given request id.</summary>
    public required Action<PooledBufferWriter, ulong> WriteFrame { get; init; }

    public override string ToString() => Name;
}

/// <summary>
/// The data-plane messages of protocol version 4 whose body is read whole by one reader (docs/protocol.md).
/// A PushData / ReplicateData body is not among them: the silo reads its fixed part with
/// <see cref="PushData.ReadHeader"/> and walks the entries itself, so its tests treat it apart.
/// </summary>
public static class MessageSamples
{
    public static byte[] BodyOf<T>(T message) where T : IWireMessage<T>
    {
        using var output = new PooledBufferWriter(64);
        message.Write(new WireWriter(output));
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Reads <paramref name="body"/> as a whole <typeparamref name="T"/>, as the silo and client do (trailing bytes refused).</summary>
    public static T ReadWhole<T>(ReadOnlySequence<byte> body) where T : IWireMessage<T>
    {
        var reader = new WireReader(body);
        var value = T.Read(ref reader);
        reader.EnsureEnd();
        return value;
    }

    public static T ReadWhole<T>(byte[] body) where T : IWireMessage<T> => ReadWhole<T>(new ReadOnlySequence<byte>(body));

    private static MessageCase Case<T>(string name, MessageType type, FrameFlags flags, T sample) where T : IWireMessage<T> => new()
    {
        Name = name,
        Type = type,
        Flags = flags,
        Body = BodyOf(sample),
        Read = body => ReadWhole<T>(body),
        Write = message => BodyOf((T)message),
        WriteFrame = (output, requestId) => FrameWriter.Write(output, type, flags, requestId, sample, ProtocolConstants.DefaultMaxFrameBodyBytes),
    };

    private const FrameFlags Reply = FrameFlags.Response;

    public static IReadOnlyList<MessageCase> All { get; } =
    [
        Case("Hello", MessageType.Hello, FrameFlags.None, Hello.ForThisBuild("tester-ü")),
        Case("HelloOk", MessageType.Hello, Reply, new HelloOk(ProtocolConstants.Version, "127.0.0.1:11111@123456", "silo-1", [.. Enumerable.Range(0, 32).Select(i => (byte)i)])),
        Case("ErrorReply", MessageType.PushData, FrameFlags.Response | FrameFlags.Error, new ErrorReply(GridErrorCode.UnknownPartition, "not here: ñ")),
        Case("PushReply", MessageType.PushData, Reply, new PushReply([new PartitionRef(1, 0), new PartitionRef(7, 3)])),
        Case("PushReply.None", MessageType.ReplicateData, Reply, PushReply.None),
        Case("FetchChunk", MessageType.FetchChunk, FrameFlags.None, new FetchChunk("app-1", 1, 2, 0, 4, 0, int.MaxValue)),
        Case("Authenticate", MessageType.Authenticate, FrameFlags.None, new Authenticate(Orleans.Shuffle.Security.PrincipalKind.Application, "app-1", [.. Enumerable.Range(100, 32).Select(i => (byte)i)])),
    ];

    public static MessageCase Get(string name) => All.Single(c => c.Name == name);

    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });
}
