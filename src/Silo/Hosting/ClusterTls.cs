using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Hosting;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// TLS on Orleans' own connections (Microsoft.Orleans.Connections.Security), with the cluster's
/// certificate. Between silos it is mutual and pinned: a peer must present the cluster certificate
/// itself, so only a holder of its private key joins the conversation as a silo (Orleans trusts
/// whatever a silo connection says it is). The gateway asks clients for no certificate: they prove
/// their applications' secrets on every call instead.
/// </summary>
internal static class ClusterTls
{
    public static ISiloBuilder UseClusterTls(this ISiloBuilder silo, X509Certificate2 certificate)
    {
        bool IsClusterCertificate(X509Certificate2 peer, X509Chain? chain, SslPolicyErrors errors) =>
            string.Equals(peer.Thumbprint, certificate.Thumbprint, StringComparison.OrdinalIgnoreCase);
        var members = new TlsOptions
        {
            LocalCertificate = certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = IsClusterCertificate,
        };
        var gateway = new TlsOptions { LocalCertificate = certificate, RemoteCertificateMode = RemoteCertificateMode.NoCertificate };
        return silo.Configure<SiloConnectionOptions>(o =>
        {
            o.ConfigureSiloInboundConnection(connection => connection.UseServerTls(members));
            o.ConfigureSiloOutboundConnection(connection => connection.UseClientTls(members));
            o.ConfigureGatewayInboundConnection(connection => connection.UseServerTls(gateway));
        });
    }
}
