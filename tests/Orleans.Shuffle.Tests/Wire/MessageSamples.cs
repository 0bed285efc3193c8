using System.Buffers;
using Orleans.Shuffle.Membership;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Wire;

/// <summary>
/// <see cref="CommittedFile"/> travels inside other messages and is not a message itself; this
/// wrapper gives it the <see cref="IWireMessage{TSelf}"/> shape so it can be framed and fuzzed alone.
/// </summary>
public readonly record struct CommittedFileMessage(CommittedFile File) : IWireMessage<CommittedFileMessage>
{
    public void Write(WireWriter writer) => File.Write(writer);

    public static CommittedFileMessage Read(ref WireReader reader) => new(CommittedFile.Read(ref reader));
}

/// <summary>One sample of every message body, with type-erased write and read, for theories and fuzzing.</summary>
public sealed class MessageCase
{
    public required string Name { get; init; }

    public required MessageType Type { get; init; }

    /// <summary>The sample's body bytes.</summary>
    public required byte[] Body { get; init; }

    /// <summary>Reads a whole body as this message (trailing bytes are malformed) and returns the message.</summary>
    public required Func<ReadOnlySequence<byte>, object> Read { get; init; }

    /// <summary>Writes a message of this type as body bytes.</summary>
    public required Func<object, byte[]> Write { get; init; }

    /// <summary>Frames a sample of this case as a whole frame.</summary>
    public required Action<PooledBufferWriter, ulong> WriteFrame { get; init; }

    public override string ToString() => Name;
}

public static class MessageSamples
{
    public static readonly SiloInfo ActiveSilo = new("127.0.0.1-40001-123456", "silo-a", "127.0.0.1", 40001, 40002, SiloStatus.Active, 64, 60, "az-1");

    public static readonly SiloInfo JoiningSilo = new("127.0.0.1-40003-123457", "silo-ß", "127.0.0.1", 40003, 0, SiloStatus.Joining, -1, -1, "");

    public static readonly CommittedFile File = new(300, 5, 0xDEADBEEF, [0, 100, 250, 300]);

    public static readonly PartitionLocation LocationA = new(0, 0,
        new SiloEndpoint("127.0.0.1-40001-123456", "127.0.0.1", 40001), new SiloEndpoint("127.0.0.1-40003-123457", "127.0.0.1", 40003));

    public static readonly PartitionLocation LocationB = new(1, 2, new SiloEndpoint("::1-65535-1", "::1", 65535));

    public static readonly IReadOnlyList<CommittedLocation> CommittedLocations =
    [
        new CommittedLocation(LocationA, [new CommittedCopy(LocationA.Primary, File), new CommittedCopy(LocationA.Replica!, File)]),
        new CommittedLocation(LocationB, [new CommittedCopy(LocationB.Primary, CommittedFile.Empty)]),
    ];

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

    private static MessageCase Case<T>(string name, MessageType type, T sample) where T : IWireMessage<T> => new()
    {
        Name = name,
        Type = type,
        Body = BodyOf(sample),
        Read = body => ReadWhole<T>(body),
        Write = message => BodyOf((T)message),
        WriteFrame = (output, requestId) => FrameWriter.Write(output, type, FrameFlags.None, requestId, sample, ProtocolConstants.DefaultMaxFrameBodyBytes),
    };

    public static IReadOnlyList<MessageCase> All { get; } =
    [
        Case("Hello", MessageType.Hello, Hello.ForThisBuild("tester-ü")),
        Case("HelloOk", MessageType.Hello, new HelloOk(ProtocolConstants.Version, "127.0.0.1-1-2", "silo-1")),
        Case("ErrorReply", MessageType.PushData, new ErrorReply(ErrorCode.NoSlots, "no slots left: ñ")),
        Case("AppRequest", MessageType.RegisterApplication, new AppRequest("app-1.2_x")),
        Case("ShuffleRequest", MessageType.DestroyShuffle, new ShuffleRequest("app-1", ShuffleRequest.AllShuffles)),
        Case("RegisterShuffle", MessageType.RegisterShuffle, new RegisterShuffle("app-1", 7, 100, 2000, 2)),
        Case("ShuffleLocations", MessageType.RegisterShuffle, new ShuffleLocations([LocationA, LocationB])),
        Case("MapperEnd", MessageType.MapperEnd, new MapperEnd("app-1", 3, 17, 2)),
        Case("MapperEndReply", MessageType.MapperEnd, new MapperEndReply(false, 1, true)),
        Case("CommittedFile", MessageType.CommitPartitions, new CommittedFileMessage(File)),
        Case("CommitReply", MessageType.CommitPartitions, new CommitReply([new CommittedPartition(0, 0, File), new CommittedPartition(5, 1, CommittedFile.Empty)])),
        Case("ReducerFileGroup", MessageType.GetReducerFileGroup, new ReducerFileGroup(3, 2, [0, -1, 2], CommittedLocations)),
        Case("PartitionRefs", MessageType.CommitPartitions, new PartitionRefs("app-1", 1, [new PartitionRef(0, 0), new PartitionRef(9, 3)])),
        Case("ReservePartitions", MessageType.ReservePartitions, new ReservePartitions("app-1", 1,
            [new PartitionReservation(0, 0, PartitionRole.Primary, LocationA.Replica), new PartitionReservation(9, 3, PartitionRole.Replica, LocationA.Primary),
             new PartitionReservation(4, 1, PartitionRole.Primary, null)])),
        Case("Revive", MessageType.Revive, new Revive("app-1", 2, [new PartitionRef(3, 0), new PartitionRef(7, 4)], ["127.0.0.1-40001-123456"])),
        Case("PushReply", MessageType.PushData, new PushReply([new PartitionRef(1, 0)])),
        Case("FetchChunk", MessageType.FetchChunk, new FetchChunk("app-1", 1, 2, 0, 4, 0, int.MaxValue)),
        Case("ClusterView", MessageType.GetClusterView, new ClusterView(42, [ActiveSilo, JoiningSilo])),
        Case("SiloStats", MessageType.GetSiloStats, new SiloStats(ActiveSilo)),
        Case("Empty", MessageType.Ping, default(Empty)),
    ];

    public static MessageCase Get(string name) => All.Single(c => c.Name == name);

    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });

    public static IEnumerable<object[]> NonEmptyNames => All.Where(c => c.Body.Length > 0).Select(c => new object[] { c.Name });
}
