using System.Buffers;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>
/// Proves a principal on a connection: an application (its data-plane key) or a member silo (the
/// cluster secret), with an HMAC over the challenge of the silo's HelloOk. A connection may prove
/// several applications, one Authenticate each. The reply is <see cref="Empty"/>.
/// </summary>
public readonly record struct Authenticate(PrincipalKind Kind, string Name, byte[] Proof) : IWireMessage<Authenticate>
{
    public void Write(WireWriter writer)
    {
        writer.WriteByte((byte)Kind);
        writer.WriteString(Name);
        writer.WriteBytes(Proof);
    }

    public static Authenticate Read(ref WireReader reader)
    {
        var kind = (PrincipalKind)reader.ReadByte();
        if (kind is not (PrincipalKind.Application or PrincipalKind.Silo)) throw WireReader.Malformed($"principal kind {(byte)kind}");
        string name = reader.ReadString();
        var proof = reader.ReadBytes(GridAuthentication.ProofBytes);
        return new Authenticate(kind, name, proof.ToArray());
    }
}
