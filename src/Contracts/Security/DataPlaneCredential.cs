namespace Orleans.Shuffle.Security;

/// <summary>
/// What a data connection proves: an application by its data-plane key (derived from its secret),
/// or a member silo by the cluster secret. Only the key's holder can answer a silo's challenge.
/// </summary>
public sealed class DataPlaneCredential
{
    private DataPlaneCredential(PrincipalKind kind, string name, byte[] key)
    {
        Kind = kind;
        Name = name;
        Key = key;
    }

    public PrincipalKind Kind { get; }

    /// <summary>The application id, or the silo's name for the other silo's logs.</summary>
    public string Name { get; }

    internal byte[] Key { get; }

    public static DataPlaneCredential ForApplication(string appId, ApplicationSecret secret) =>
        new(PrincipalKind.Application, appId, GridAuthentication.DataPlaneKey(secret));

    public static DataPlaneCredential ForSilo(string siloName, ReadOnlySpan<byte> clusterSecret)
    {
        if (clusterSecret.Length < GridAuthentication.MinClusterSecretBytes)
            throw new ArgumentException($"A cluster secret has at least {GridAuthentication.MinClusterSecretBytes} bytes.", nameof(clusterSecret));
        return new(PrincipalKind.Silo, siloName, clusterSecret.ToArray());
    }

    /// <summary>The proof of this credential over a silo's challenge (see <see cref="GridAuthentication.DataPlaneProof"/>).</summary>
    public byte[] Prove(ReadOnlySpan<byte> challenge, string siloIdentity) =>
        GridAuthentication.DataPlaneProof(Key, challenge, siloIdentity, Kind, Name);

    public override string ToString() => $"{Kind} {Name}";
}
