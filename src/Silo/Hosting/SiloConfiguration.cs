using Microsoft.Extensions.Configuration;
using Orleans.Shuffle.Grains.Security;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Silo.DataPlane;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>A configuration problem found at start-up, with every failure listed.</summary>
public sealed class SiloConfigurationException(IReadOnlyList<string> failures)
    : Exception("Invalid silo configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", failures))
{
    public IReadOnlyList<string> Failures { get; } = failures;
}

/// <summary>
/// The grid's own options of a silo, bound from configuration (appsettings.json, SHUFFLE_-prefixed
/// environment variables, command line), with defaults filled in and validated before anything
/// starts. Orleans' own options (e.g. ClusterMembershipOptions from "Membership") bind on their own.
/// </summary>
public sealed record SiloConfiguration(
    SiloOptions Silo, DataEndpointOptions DataEndpoint, MembershipOptions Membership, StorageOptions Storage, ApplicationOptions Applications,
    GridSecurityOptions Security)
{
    /// <summary>The cluster's TLS certificate, with its private key (Security:TlsCertificateFile); null for plain TCP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; private set; }

    /// <summary>The cluster secret the embedded (file) membership keeps beside its table when none is configured.</summary>
    public const string EmbeddedClusterSecretFile = "cluster.secret";

    /// <summary>Short command-line switches for the settings people change most.</summary>
    public static readonly IReadOnlyDictionary<string, string> SwitchMappings = new Dictionary<string, string>
    {
        ["--cluster-id"] = "Silo:ClusterId",
        ["--service-id"] = "Silo:ServiceId",
        ["--name"] = "Silo:Name",
        ["--listen"] = "Silo:ListenAddress",
        ["--host"] = "Silo:AdvertisedHost",
        ["--silo-port"] = "Silo:SiloPort",
        ["--gateway-port"] = "Silo:GatewayPort",
        ["--data-port"] = "Silo:DataPort",
        ["--http-port"] = "Silo:HttpPort",
        ["--fault-zone"] = "Silo:FaultZone",
        ["--parent-pid"] = "Silo:ParentProcessId",
        ["--disk"] = "Storage:Directories:0",
        ["--slots"] = "Storage:SlotsPerDisk",
        ["--membership"] = "Membership:Provider",
        ["--membership-dir"] = "Membership:Directory",
        ["--dynamodb-service"] = "Membership:DynamoDB:Service",
    };

    public static SiloConfiguration Load(IConfiguration configuration)
    {
        var failures = new List<string>();
        T Bind<T>(string section) where T : new()
        {
            try
            {
                return configuration.GetSection(section).Get<T>() ?? new T();
            }
            catch (InvalidOperationException e)
            {
                failures.Add($"{section}: {e.Message}");
                return new T();
            }
        }

        var config = new SiloConfiguration(
            Bind<SiloOptions>(SiloOptions.SectionName),
            Bind<DataEndpointOptions>(DataEndpointOptions.SectionName),
            Bind<MembershipOptions>(MembershipOptions.SectionName),
            Bind<StorageOptions>(StorageOptions.SectionName),
            Bind<ApplicationOptions>(ApplicationOptions.SectionName),
            Bind<GridSecurityOptions>(GridSecurityOptions.SectionName));
        failures.AddRange(config.Silo.Validate());
        if (failures.Count == 0) config.FillDefaults();
        failures.AddRange(config.DataEndpoint.Validate());
        failures.AddRange(config.Membership.Validate());
        failures.AddRange(config.Storage.Validate());
        failures.AddRange(config.Applications.Validate());
        if (failures.Count == 0 && config.ResolveClusterSecret() is { } secretProblem) failures.Add(secretProblem);
        if (failures.Count == 0 && config.LoadTlsCertificate() is { } tlsProblem) failures.Add(tlsProblem);
        if (failures.Count > 0) throw new SiloConfigurationException(failures);
        return config;
    }

    /// <summary>The embedded stores' default directory of a cluster: {temp}/orleans-shuffle/{cluster id}.</summary>
    public static string DefaultMembershipDirectory(string clusterId) => Path.Combine(Path.GetTempPath(), "orleans-shuffle", clusterId);

    /// <summary>
    /// Sets Security:ClusterSecret from where it comes: the setting itself, Security:ClusterSecretFile,
    /// or, with the embedded membership, the membership directory's cluster.secret, which the first
    /// silo of the cluster creates (random, readable by its user only) and the others read. With
    /// DynamoDB membership the silos share no directory, so the secret must be configured. Returns
    /// what is wrong, or null.
    /// </summary>
    private string? ResolveClusterSecret()
    {
        if (!Security.RequireAuthentication) return null;
        try
        {
            if (!string.IsNullOrEmpty(Security.ClusterSecret))
            {
                GridSecurityOptions.Decode(Security.ClusterSecret, "Security:ClusterSecret");
                return null;
            }
            if (!string.IsNullOrEmpty(Security.ClusterSecretFile))
            {
                if (!File.Exists(Security.ClusterSecretFile)) return $"Security:ClusterSecretFile {Security.ClusterSecretFile} does not exist.";
                if (PrivateFileProblem(Security.ClusterSecretFile, "Security:ClusterSecretFile") is { } exposed) return exposed;
                Security.ClusterSecret = File.ReadAllText(Security.ClusterSecretFile).Trim();
                GridSecurityOptions.Decode(Security.ClusterSecret, $"Security:ClusterSecretFile {Security.ClusterSecretFile}");
                return null;
            }
            if (Membership.UsesDynamoDB)
                return "Security:ClusterSecret (or Security:ClusterSecretFile) is required with DynamoDB membership: every silo of the cluster must hold the same secret " +
                    "(32 random bytes in base64, e.g. `openssl rand -base64 32`). Security:RequireAuthentication=false turns authentication off.";
            Security.ClusterSecret = EmbeddedClusterSecret(Path.Combine(Membership.Directory, EmbeddedClusterSecretFile));
            return null;
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    /// <summary>Loads Security:TlsCertificateFile, or says why TLS is required and missing, or why the file is no use.</summary>
    private string? LoadTlsCertificate()
    {
        bool required = Security.RequireTls ?? Membership.UsesDynamoDB;
        Security.RequireTls = required;
        if (!string.IsNullOrEmpty(Security.TlsCertificateSubject) && string.IsNullOrEmpty(Security.TlsCertificateFile))
        {
            TlsCertificate = StoreCertificate(Security.TlsCertificateSubject);
            return TlsCertificate is null
                ? $"Security:TlsCertificateSubject: no valid certificate with a private key and the subject '{Security.TlsCertificateSubject}' in the current user's or the machine's My store."
                : null;
        }
        if (string.IsNullOrEmpty(Security.TlsCertificateFile))
        {
            return required
                ? "Security:TlsCertificateFile (or Security:TlsCertificateSubject) is required with DynamoDB membership: the silos of a grid on several machines talk over TLS " +
                  "(a .pfx with the private key, the same on every silo). Security:RequireTls=false runs plain TCP on a network you trust."
                : null;
        }
        try
        {
            // The private key of the cluster: as private as the cluster secret.
            if (!File.Exists(Security.TlsCertificateFile)) return $"Security:TlsCertificateFile {Security.TlsCertificateFile} does not exist.";
            if (PrivateFileProblem(Security.TlsCertificateFile, "Security:TlsCertificateFile") is { } exposed) return exposed;
            var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(
                Security.TlsCertificateFile, Security.TlsCertificatePassword);
            if (!certificate.HasPrivateKey) return $"Security:TlsCertificateFile {Security.TlsCertificateFile} holds no private key.";
            TlsCertificate = certificate;
            return null;
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            return $"Security:TlsCertificateFile {Security.TlsCertificateFile} cannot be read: {e.Message}";
        }
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2? StoreCertificate(string subject)
    {
        var now = DateTime.Now;
        foreach (var location in new[] { System.Security.Cryptography.X509Certificates.StoreLocation.CurrentUser, System.Security.Cryptography.X509Certificates.StoreLocation.LocalMachine })
        {
            try
            {
                using var store = new System.Security.Cryptography.X509Certificates.X509Store(System.Security.Cryptography.X509Certificates.StoreName.My, location);
                store.Open(System.Security.Cryptography.X509Certificates.OpenFlags.ReadOnly | System.Security.Cryptography.X509Certificates.OpenFlags.OpenExistingOnly);
                var found = store.Certificates
                    .Where(c => string.Equals(c.Subject, subject, StringComparison.OrdinalIgnoreCase) && c.HasPrivateKey && c.NotBefore <= now && now < c.NotAfter)
                    .MaxBy(c => c.NotAfter);
                if (found is not null) return found;
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                // No such store here (a machine store on Linux): look in the next.
            }
        }
        return null;
    }

    /// <summary>
    /// Why a secret file cannot be trusted: others may read or replace it (group or other bits on the
    /// file, or others may write its directory, so they could put a secret of theirs in its place).
    /// </summary>
    private static string? PrivateFileProblem(string path, string what)
    {
        if (OperatingSystem.IsWindows()) return null;
        const UnixFileMode othersAny = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
            UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        const UnixFileMode othersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
        if ((File.GetUnixFileMode(path) & othersAny) != 0)
            return $"{what} {path} may be read by other users (mode {Convert.ToString((int)File.GetUnixFileMode(path), 8)}): chmod 600 it.";
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if ((File.GetUnixFileMode(directory) & othersWrite) != 0)
            return $"{what} {path} is in a directory other users may write: they could replace it. Use a directory only the silo's user writes.";
        return null;
    }

    private static string EmbeddedClusterSecret(string path)
    {
        string directory = Path.GetDirectoryName(path)!;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
        else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (!File.Exists(path))
        {
            // Written to a file of its own and moved into place: a silo starting at the same moment reads a whole secret or none.
            string fresh = $"{path}.{Environment.ProcessId}.tmp";
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(fresh, options))
            using (var writer = new StreamWriter(stream))
                writer.Write(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
            try
            {
                File.Move(fresh, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another silo was first: its secret is the cluster's.
                File.Delete(fresh);
            }
        }
        if (PrivateFileProblem(path, "The cluster secret") is { } exposed) throw new IOException(exposed);
        string secret = File.ReadAllText(path).Trim();
        GridSecurityOptions.Decode(secret, path);
        return secret;
    }

    private void FillDefaults()
    {
        if (string.IsNullOrEmpty(Silo.Name)) Silo.Name = $"silo-{Silo.SiloPort}";
        if (string.IsNullOrEmpty(Silo.ServiceId)) Silo.ServiceId = Silo.ClusterId;
        if (string.IsNullOrEmpty(Membership.Directory)) Membership.Directory = DefaultMembershipDirectory(Silo.ClusterId);
        if (Storage.Directories.Count == 0)
            Storage.Directories.Add(Path.Combine(Path.GetTempPath(), "orleans-shuffle", Silo.ClusterId, Silo.Name, "disk0"));
        // The data endpoint listens where the silo does, under the silo's port setting.
        DataEndpoint.ListenAddress = Silo.ListenAddress;
        DataEndpoint.AdvertisedHost = Silo.EffectiveAddress.ToString();
        DataEndpoint.Port = Silo.DataPort;
    }
}
