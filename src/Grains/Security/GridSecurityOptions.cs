using Orleans.Shuffle.Security;

namespace Orleans.Shuffle.Grains.Security;

/// <summary>
/// Who may do what on the grid (section "Security"; docs/protocol.md, "Authentication"). On by
/// default: every control call and data connection of an application proves the application's
/// secret, and what only silos may do (replication, reserving, committing and deleting partition
/// copies) proves the cluster secret, which every silo of the cluster holds.
/// </summary>
public sealed class GridSecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>
    /// Default true. False turns every check off (a trusted benchmark network only: any client may
    /// then read, write and delete any application's data).
    /// </summary>
    public bool RequireAuthentication { get; set; } = true;

    /// <summary>
    /// The cluster secret, base64, at least 32 bytes; the same on every silo of the cluster. Default
    /// none: then <see cref="ClusterSecretFile"/>, or with the embedded (file) membership a file
    /// "cluster.secret" that the first silo creates in the membership directory.
    /// </summary>
    public string? ClusterSecret { get; set; }

    /// <summary>A file holding the cluster secret in base64 (readable by the silo's user only). Default none.</summary>
    public string? ClusterSecretFile { get; set; }

    /// <summary>
    /// The cluster's certificate with its private key (PKCS #12, .pfx), the same on every silo. With
    /// it every connection is TLS: Orleans' silo-to-silo connections (mutual: a peer must present this
    /// certificate), its gateway, and the data plane. Clients pin its public part. Default none.
    /// </summary>
    public string? TlsCertificateFile { get; set; }

    /// <summary>
    /// Instead of <see cref="TlsCertificateFile"/>: the subject (e.g. "CN=grid.example.com") of the
    /// cluster's certificate in the system store, the current user's "My" store first, then the
    /// machine's; of the valid ones with a private key, the one that expires last. Default none.
    /// </summary>
    public string? TlsCertificateSubject { get; set; }

    /// <summary>The password of <see cref="TlsCertificateFile"/>. Default none.</summary>
    public string? TlsCertificatePassword { get; set; }

    /// <summary>
    /// Whether the silo refuses to start without <see cref="TlsCertificateFile"/>. Default: true with
    /// DynamoDB membership (silos on several machines), false with the embedded membership (one machine,
    /// loopback). Set false to run a DynamoDB grid in plain TCP on a network you trust.
    /// </summary>
    public bool? RequireTls { get; set; }

    /// <summary>The decoded secret; errors say what is wrong without showing it.</summary>
    public static byte[] Decode(string base64, string source)
    {
        byte[] secret;
        try
        {
            secret = Convert.FromBase64String(base64.Trim());
        }
        catch (FormatException)
        {
            throw new FormatException($"{source} is not base64.");
        }
        if (secret.Length < GridAuthentication.MinClusterSecretBytes)
            throw new FormatException($"{source} has {secret.Length} bytes; a cluster secret has at least {GridAuthentication.MinClusterSecretBytes}.");
        return secret;
    }
}
