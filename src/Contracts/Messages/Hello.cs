using System.Buffers;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>The first frame on every connection. Anything else first is refused.</summary>
public readonly record struct Hello(uint Magic, ushort Version, string PeerName) : IWireMessage<Hello>
{
    public static Hello ForThisBuild(string peerName) => new(ProtocolConstants.Magic, ProtocolConstants.Version, peerName);

    public void Write(WireWriter writer)
    {
        writer.WriteUInt32(Magic);
        writer.WriteUInt16(Version);
        writer.WriteString(PeerName);
    }

    public static Hello Read(ref WireReader reader) => new(reader.ReadUInt32(), reader.ReadUInt16(), reader.ReadString());
}

/// <summary>
/// The silo's answer to a Hello it accepts. <see cref="Challenge"/> is 32 random bytes of this
/// connection that an <see cref="Authenticate"/> proves a key over; empty when the silo does not ask
/// for authentication (Security:RequireAuthentication off).
/// </summary>
public readonly record struct HelloOk(ushort Version, string SiloIdentity, string SiloName, byte[] Challenge) : IWireMessage<HelloOk>
{
    public void Write(WireWriter writer)
    {
        writer.WriteUInt16(Version);
        writer.WriteString(SiloIdentity);
        writer.WriteString(SiloName);
        writer.WriteBytes(Challenge);
    }

    public static HelloOk Read(ref WireReader reader) =>
        new(reader.ReadUInt16(), reader.ReadString(), reader.ReadString(), reader.ReadBytes(Security.GridAuthentication.ChallengeBytes).ToArray());
}

/// <summary>The body of every error response.</summary>
public readonly record struct ErrorReply(GridErrorCode Code, string Message) : IWireMessage<ErrorReply>
{
    public void Write(WireWriter writer)
    {
        writer.WriteUInt16((ushort)Code);
        writer.WriteString(Message.Length > 1024 ? Message[..1024] : Message);
    }

    public static ErrorReply Read(ref WireReader reader) => new((GridErrorCode)reader.ReadUInt16(), reader.ReadString());
}
