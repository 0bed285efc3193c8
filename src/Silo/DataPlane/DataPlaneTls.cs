using System.Security.Cryptography.X509Certificates;
using Orleans.Shuffle.Transport;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// The cluster certificate the data endpoint serves TLS with, and trusts (pinned) when it connects to
/// another silo's; null for plain TCP. Every silo of a grid holds the same certificate.
/// </summary>
public sealed record DataPlaneTls(X509Certificate2? Certificate)
{
    /// <summary>Client-side TLS for this silo's connections to other silos' data endpoints; null for plain TCP.</summary>
    public GridTlsOptions? ToClientOptions() =>
        Certificate is null ? null : new GridTlsOptions { TrustedCertificate = Certificate, LocalCertificate = Certificate };
}
