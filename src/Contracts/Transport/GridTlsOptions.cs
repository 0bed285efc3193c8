using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Orleans.Shuffle.Transport;

/// <summary>
/// TLS of a data connection, client side. The grid's silos present one certificate (the cluster's);
/// a client pins it: a silo is trusted when it presents exactly that certificate, whatever its chain
/// and name, as SSH pins a host key. Without a pinned certificate the system's trust store and the
/// silo's host name decide.
/// </summary>
public sealed class GridTlsOptions
{
    /// <summary>The certificate every silo presents (its public part is enough). Default none: the system's trust store.</summary>
    public X509Certificate2? TrustedCertificate { get; set; }

    /// <summary>The certificate this side presents when the other side asks for one (a silo to another silo). Default none.</summary>
    public X509Certificate2? LocalCertificate { get; set; }

    /// <summary>Protocols offered. Default TLS 1.3 and 1.2.</summary>
    public SslProtocols Protocols { get; set; } = SslProtocols.Tls13 | SslProtocols.Tls12;

    /// <summary>True when <paramref name="certificate"/> is the pinned one, or, with none pinned, when the system trusts it for this host.</summary>
    public bool IsTrusted(X509Certificate? certificate, SslPolicyErrors errors) =>
        TrustedCertificate is { } pinned
            ? certificate is not null && string.Equals(certificate.GetCertHashString(), pinned.Thumbprint, StringComparison.OrdinalIgnoreCase)
            : errors == SslPolicyErrors.None;

    internal SslClientAuthenticationOptions ClientOptions(string host) => new()
    {
        TargetHost = host,
        EnabledSslProtocols = Protocols,
        ClientCertificates = LocalCertificate is null ? null : [LocalCertificate],
        RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsTrusted(certificate, errors),
    };
}
