using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Orleans.Shuffle.Job;

/// <summary>
/// A self-signed certificate for a grid of one machine (--tls): the silos' Security:TlsCertificateFile
/// (the .pfx, with the private key, readable by this user only) and the public part every client pins
/// (the .cer). ECDSA P-256, for server and client authentication (silos authenticate each other with
/// it too), valid for a year. A grid of several machines brings its own.
/// </summary>
internal static class ClusterCertificate
{
    public static (string Pfx, string Cer) Create(string directory)
    {
        CreatePrivateDirectory(directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=orleans-shuffle local grid", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false)); // server and client authentication
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("orleans-shuffle");
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        string pfx = Path.Combine(directory, "cluster.pfx");
        string cer = Path.Combine(directory, "cluster.cer");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(pfx, options)) file.Write(certificate.Export(X509ContentType.Pkcs12));
        // A file that was there already keeps its mode through FileMode.Create: set it.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(pfx, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllBytes(cer, certificate.Export(X509ContentType.Cert));
        return (pfx, cer);
    }

    /// <summary>A directory only this user may write (a silo refuses secrets in a directory others could write, whatever the umask).</summary>
    public static void CreatePrivateDirectory(string directory)
    {
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>A certificate file as a client pins it: a .pfx/.p12 (its public part is used) or a .cer/.crt/.pem.</summary>
    public static X509Certificate2 Load(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12"
            ? X509CertificateLoader.LoadPkcs12FromFile(path, null)
            : X509CertificateLoader.LoadCertificateFromFile(path);
}
