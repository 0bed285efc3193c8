using Microsoft.Extensions.Configuration;
using Orleans.Shuffle.Silo.Hosting;

namespace Orleans.Shuffle.Tests.Configuration;

/// <summary>The silo's own settings: bound, defaulted and validated before anything starts, every problem listed.</summary>
public class SiloConfigurationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static SiloConfiguration Args(params string[] args) =>
        SiloConfiguration.Load(new ConfigurationBuilder().AddCommandLine(args, SiloConfiguration.SwitchMappings.ToDictionary()).Build());

    [Fact]
    public void Bad_values_are_all_listed()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloConfiguration.Load(Config(
            ("Silo:SiloPort", "70000"),
            ("Silo:ClusterId", "../../etc"),
            ("Storage:Directories:0", Path.GetTempPath()),
            ("Storage:FlushBufferBytes", "1"),
            ("Membership:Provider", "zookeeper"),
            ("DataEndpoint:MaxFrameBodyBytes", "10"))));
        Assert.Contains(e.Failures, f => f.Contains("Silo:SiloPort") && f.Contains("70000"));
        Assert.Contains(e.Failures, f => f.Contains("Silo:ClusterId"));
        Assert.Contains(e.Failures, f => f.Contains("Storage:FlushBufferBytes"));
        Assert.Contains(e.Failures, f => f.Contains("Membership:Provider 'zookeeper'"));
        Assert.Contains(e.Failures, f => f.Contains("DataEndpoint:MaxFrameBodyBytes"));
        Assert.All(e.Failures, f => Assert.Contains(f, e.Message));
    }

    [Theory]
    [InlineData("")]
    [InlineData("é")]
    [InlineData("a/b")]
    [InlineData(".")]
    public void Cluster_ids_outside_the_alphabet_are_refused(string clusterId)
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloConfiguration.Load(Config(("Silo:ClusterId", clusterId))));
        Assert.Contains(e.Failures, f => f.Contains("Silo:ClusterId"));
    }

    [Fact]
    public void Values_that_do_not_bind_are_listed_with_the_others()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloConfiguration.Load(Config(
            ("Silo:GatewayPort", "not-a-number"),
            ("Applications:HeartbeatTtl", "-00:00:01"))));
        Assert.Contains(e.Failures, f => f.StartsWith("Silo:", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Applications:HeartbeatTtl"));
    }

    [Fact]
    public void Good_values_load_with_defaults_filled_in()
    {
        var config = Args("--cluster-id", "c1", "--silo-port", "21000", "--gateway-port", "21001", "--data-port", "0", "--http-port", "-1",
            "--slots", "7", "--fault-zone", "az-b", "--Applications:HeartbeatTtl=00:00:02");
        Assert.Equal("c1", config.Silo.ClusterId);
        Assert.Equal("c1", config.Silo.ServiceId);
        Assert.Equal((21000, 21001, 0, -1), (config.Silo.SiloPort, config.Silo.GatewayPort, config.Silo.DataPort, config.Silo.HttpPort));
        Assert.Equal("az-b", config.Silo.FaultZone);
        Assert.Equal(7, config.Storage.SlotsPerDisk);
        Assert.Equal(TimeSpan.FromSeconds(2), config.Applications.HeartbeatTtl);
        Assert.Single(config.Storage.Directories);
        Assert.Equal(SiloConfiguration.DefaultMembershipDirectory("c1"), config.Membership.Directory);
        Assert.Equal("silo-21000", config.Silo.Name);
        // The data endpoint listens where the silo does.
        Assert.Equal(("127.0.0.1", "127.0.0.1", 0), (config.DataEndpoint.ListenAddress, config.DataEndpoint.AdvertisedHost, config.DataEndpoint.Port));
    }

    [Fact]
    public void Equal_ports_are_refused()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => Args("--silo-port", "9000", "--gateway-port", "9000"));
        Assert.Contains(e.Failures, f => f.Contains("must differ"));
    }

    [Fact]
    public void A_wildcard_listen_address_needs_an_advertised_IP()
    {
        Assert.Contains(Assert.Throws<SiloConfigurationException>(() => Args("--listen", "0.0.0.0")).Failures, f => f.Contains("Silo:AdvertisedHost is required"));
        Assert.Contains(Assert.Throws<SiloConfigurationException>(() => Args("--listen", "0.0.0.0", "--host", "ip-10-0-0-5")).Failures,
            f => f.Contains("is not an IP address"));
        Assert.Equal("10.0.0.5", Args("--listen", "0.0.0.0", "--host", "10.0.0.5").DataEndpoint.AdvertisedHost);
    }

    [Fact]
    public void The_DynamoDB_provider_needs_a_service_and_three_different_tables()
    {
        var missing = Assert.Throws<SiloConfigurationException>(() => Args("--membership", "dynamodb"));
        Assert.Contains(missing.Failures, f => f.Contains("Membership:DynamoDB:Service"));

        var config = Args("--membership", "DynamoDB", "--dynamodb-service", "us-east-1", "--Security:ClusterSecret=" + NewSecret(), "--Security:RequireTls=false");
        Assert.True(config.Membership.UsesDynamoDB);
        Assert.Equal(("OrleansSilos", "OrleansGrainState", "OrleansReminders"),
            (config.Membership.DynamoDB.SilosTableName, config.Membership.DynamoDB.GrainStateTableName, config.Membership.DynamoDB.RemindersTableName));
        Assert.Equal("us-east-1", config.Membership.DynamoDB.Clustering().Service);

        var same = Assert.Throws<SiloConfigurationException>(() => Args("--membership", "dynamodb", "--dynamodb-service", "us-east-1",
            "--Membership:DynamoDB:RemindersTableName=OrleansSilos", "--Security:ClusterSecret=" + NewSecret()));
        Assert.Contains("three different names", Assert.Single(same.Failures));

        var badName = Assert.Throws<SiloConfigurationException>(() => Args("--membership", "dynamodb", "--dynamodb-service", "us-east-1",
            "--Membership:DynamoDB:GrainStateTableName=x"));
        Assert.Contains(badName.Failures, f => f.Contains("Membership:DynamoDB:GrainStateTableName 'x'"));
    }

    private static string NewSecret() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    [Fact]
    public void DynamoDB_membership_needs_a_configured_cluster_secret_and_a_bad_one_is_refused_without_showing_it()
    {
        var missing = Assert.Throws<SiloConfigurationException>(() => Args("--membership", "dynamodb", "--dynamodb-service", "us-east-1"));
        Assert.Contains("Security:ClusterSecret (or Security:ClusterSecretFile) is required with DynamoDB membership", Assert.Single(missing.Failures));

        var shortSecret = Convert.ToBase64String(new byte[16]);
        var tooShort = Assert.Throws<SiloConfigurationException>(() => Args("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--Security:ClusterSecret=" + shortSecret));
        Assert.Contains("has 16 bytes; a cluster secret has at least 32", Assert.Single(tooShort.Failures));
        Assert.DoesNotContain(shortSecret, tooShort.Message);

        var notBase64 = Assert.Throws<SiloConfigurationException>(() => Args("--Security:ClusterSecret=not base64!"));
        Assert.Contains("Security:ClusterSecret is not base64", Assert.Single(notBase64.Failures));

        var noFile = Assert.Throws<SiloConfigurationException>(() => Args("--Security:ClusterSecretFile=/nonexistent/cluster.secret"));
        Assert.Contains("does not exist", Assert.Single(noFile.Failures));

        // Turned off, nothing is needed.
        Assert.False(Args("--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--Security:RequireAuthentication=false", "--Security:RequireTls=false")
            .Security.RequireAuthentication);
    }

    [Fact]
    public void The_embedded_membership_keeps_one_cluster_secret_in_its_directory_readable_by_its_user_only()
    {
        using var temp = new Orleans.Shuffle.Testing.TempDirectory("oshuffle-secret");
        var first = Args("--membership-dir", temp.Path);
        var second = Args("--membership-dir", temp.Path);
        string file = Path.Combine(temp.Path, SiloConfiguration.EmbeddedClusterSecretFile);

        Assert.Equal(first.Security.ClusterSecret, second.Security.ClusterSecret);
        Assert.Equal(32, Convert.FromBase64String(first.Security.ClusterSecret!).Length);
        Assert.Equal(first.Security.ClusterSecret, File.ReadAllText(file).Trim());
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        // Another cluster's directory gets its own secret.
        using var other = new Orleans.Shuffle.Testing.TempDirectory("oshuffle-secret");
        Assert.NotEqual(first.Security.ClusterSecret, Args("--membership-dir", other.Path).Security.ClusterSecret);
    }

    [Fact]
    public void DynamoDB_membership_needs_a_TLS_certificate_with_its_private_key_unless_TLS_is_turned_off()
    {
        string[] dynamo = ["--membership", "dynamodb", "--dynamodb-service", "us-east-1", "--Security:ClusterSecret=" + NewSecret()];
        var missing = Assert.Throws<SiloConfigurationException>(() => Args(dynamo));
        Assert.Contains("Security:TlsCertificateFile (or Security:TlsCertificateSubject) is required with DynamoDB membership", Assert.Single(missing.Failures));
        Assert.False(Args([.. dynamo, "--Security:RequireTls=false"]).Security.RequireTls);

        using var temp = new Orleans.Shuffle.Testing.TempDirectory("oshuffle-tls-config");
        var (pfx, cer) = Orleans.Shuffle.Job.ClusterCertificate.Create(temp.Path);
        var config = Args([.. dynamo, "--Security:TlsCertificateFile", pfx]);
        Assert.True(config.TlsCertificate is { HasPrivateKey: true });
        var publicOnly = Assert.Throws<SiloConfigurationException>(() => Args([.. dynamo, "--Security:TlsCertificateFile", cer]));
        Assert.Contains($"Security:TlsCertificateFile {cer}", Assert.Single(publicOnly.Failures));
        // The embedded membership (one machine) takes TLS when given a certificate, and needs none.
        Assert.Null(Args("--membership-dir", temp.Combine("m")).TlsCertificate);
        Assert.NotNull(Args("--membership-dir", temp.Combine("m2"), "--Security:TlsCertificateFile", pfx).TlsCertificate);
    }

    [Fact]
    public void A_secret_file_others_may_read_or_replace_is_refused()
    {
        using var temp = new Orleans.Shuffle.Testing.TempDirectory("oshuffle-secret-mode");
        string file = temp.Combine("cluster.secret");
        File.WriteAllText(file, NewSecret());
        if (OperatingSystem.IsWindows()) return;
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var readable = Assert.Throws<SiloConfigurationException>(() => Args("--Security:ClusterSecretFile=" + file));
        Assert.Contains("may be read by other users (mode 604)", Assert.Single(readable.Failures));

        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(temp.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
        var replaceable = Assert.Throws<SiloConfigurationException>(() => Args("--Security:ClusterSecretFile=" + file));
        Assert.Contains("in a directory other users may write", Assert.Single(replaceable.Failures));

        File.SetUnixFileMode(temp.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.NotNull(Args("--Security:ClusterSecretFile=" + file).Security.ClusterSecret);
    }

    [Fact]
    public void The_TLS_certificate_may_come_from_the_users_certificate_store_by_subject()
    {
        string subject = "CN=oshuffle-test-" + Guid.NewGuid().ToString("N")[..8];
        using var key = System.Security.Cryptography.ECDsa.Create();
        using var created = new System.Security.Cryptography.X509Certificates.CertificateRequest(subject, key, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS #12, so the store keeps the private key with it.
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
            created.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null,
            System.Security.Cryptography.X509Certificates.X509KeyStorageFlags.PersistKeySet | System.Security.Cryptography.X509Certificates.X509KeyStorageFlags.Exportable);
        using var store = new System.Security.Cryptography.X509Certificates.X509Store(System.Security.Cryptography.X509Certificates.StoreName.My,
            System.Security.Cryptography.X509Certificates.StoreLocation.CurrentUser);
        store.Open(System.Security.Cryptography.X509Certificates.OpenFlags.ReadWrite);
        store.Add(certificate);
        try
        {
            var config = Args("--Security:TlsCertificateSubject=" + subject);
            Assert.Equal(certificate.Thumbprint, config.TlsCertificate?.Thumbprint);
            Assert.True(config.TlsCertificate!.HasPrivateKey);
            var missing = Assert.Throws<SiloConfigurationException>(() => Args("--Security:TlsCertificateSubject=CN=nobody-" + Guid.NewGuid().ToString("N")));
            Assert.Contains("no valid certificate with a private key", Assert.Single(missing.Failures));
        }
        finally
        {
            store.Remove(certificate);
        }
    }
}
