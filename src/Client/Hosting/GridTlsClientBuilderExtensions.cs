using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;
using Orleans.Hosting;

namespace Orleans.Shuffle.Client.Hosting;

/// <summary>TLS between an Orleans client and a grid whose silos serve it (Security:TlsCertificateFile).</summary>
public static class GridTlsClientBuilderExtensions
{
    /// <summary>
    /// Speaks TLS to the gateways and trusts a gateway only when it presents
    /// <paramref name="clusterCertificate"/> (its public part is enough: the silos' certificate, pinned).
    /// The data plane needs the same certificate in <see cref="GridClientOptions.TlsCertificate"/>.
    /// </summary>
    public static IClientBuilder UseGridTls(this IClientBuilder client, X509Certificate2 clusterCertificate)
    {
        ArgumentNullException.ThrowIfNull(clusterCertificate);
        return client.UseTls(o =>
        {
            o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            o.RemoteCertificateValidation = (certificate, _, _) =>
                string.Equals(certificate.Thumbprint, clusterCertificate.Thumbprint, StringComparison.OrdinalIgnoreCase);
        });
    }
}
