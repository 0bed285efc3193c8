using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Shuffle.Job;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Testing;
using Orleans.Shuffle.Tests.Infrastructure;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Faults;

/// <summary>
/// Three silo processes with the cluster certificate (Security:TlsCertificateFile): a job whose
/// clients pin that certificate verifies; a plain data connection, a plain Orleans client, a client
/// pinning another certificate, and a peer at the silo-to-silo port without the cluster certificate
/// are all refused in the TLS handshake, before a frame or message is read.
/// </summary>
[Collection(SiloCollection.Name)]
public class TlsProcessTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_TLS_grid_serves_a_job_that_pins_its_certificate_and_refuses_every_plaintext_or_untrusted_peer()
    {
        using var temp = new TempDirectory("oshuffle-tls");
        var (pfx, cer) = ClusterCertificate.Create(temp.Combine("tls"));
        var (otherPfx, otherCer) = ClusterCertificate.Create(temp.Combine("other"));
        string[] disks = [temp.Combine("s1"), temp.Combine("s2"), temp.Combine("s3")];
        using var grid = await SiloProcessGrid.StartAsync(disks, temp.Combine("membership"), ["--Security:TlsCertificateFile", pfx]);

        var job = await FaultJob.RunAsync(temp, ["--grid", grid.Gateways, "--cluster-id", grid.ClusterId, "--tls-certificate", cer, .. FaultJob.SmallJob(), "--replicas", "2"]);
        Assert.True(job.ExitCode == 0 && job.Verified, "the job over TLS did not verify." + Environment.NewLine + job.Describe());

        var silo = grid.Silos[0];
        string[] data = silo.Data.Split(':');
        int dataPort = int.Parse(data[1], System.Globalization.CultureInfo.InvariantCulture);

        // A plain data connection: its Hello is no TLS ClientHello, so the silo drops it unanswered.
        await using (var plain = await RawGridSocket.ConnectAsync(data[0], dataPort))
        {
            await plain.SendFrameAsync(MessageType.Hello, Hello.ForThisBuild("plaintext"), requestId: 1);
            Assert.True(await plain.WaitForCloseAsync(Bound), "a plaintext data connection was left open");
        }
        var plainClient = await Assert.ThrowsAsync<GridException>(() =>
            GridConnection.ConnectAsync(data[0], dataPort, new GridConnectionOptions { ConnectTimeout = TimeSpan.FromSeconds(5) }));
        Assert.Contains(plainClient.Code, new[] { GridErrorCode.SiloUnavailable, GridErrorCode.ConnectionLost });

        // A TLS client that pins another certificate refuses the silo.
        var untrusted = await Assert.ThrowsAsync<GridException>(() => GridConnection.ConnectAsync(data[0], dataPort, new GridConnectionOptions
        {
            Tls = new GridTlsOptions { TrustedCertificate = X509CertificateLoader.LoadCertificateFromFile(otherCer) },
        }));
        Assert.Equal(GridErrorCode.Unauthorized, untrusted.Code);
        // And one that pins the cluster's completes the handshake and the Hello.
        await using (var trusted = await GridConnection.ConnectAsync(data[0], dataPort, new GridConnectionOptions
        {
            Tls = new GridTlsOptions { TrustedCertificate = X509CertificateLoader.LoadCertificateFromFile(cer) },
        }))
        {
            Assert.Equal(silo.Identity, trusted.Remote.SiloIdentity);
        }

        // Orleans' gateway: a plain client cannot connect.
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectPlainOrleansClientAsync(grid));

        // Orleans' silo-to-silo port: TLS without the cluster certificate is refused; with it, accepted.
        string siloEndpoint = silo.Identity.Split('@')[0];
        Assert.False(await SiloPortHandshakeAsync(siloEndpoint, clientCertificate: null, cer), "the silo port took a peer without the cluster certificate");
        Assert.False(await SiloPortHandshakeAsync(siloEndpoint, X509CertificateLoader.LoadPkcs12FromFile(otherPfx, null), cer), "the silo port took a peer with another certificate");
        Assert.True(await SiloPortHandshakeAsync(siloEndpoint, X509CertificateLoader.LoadPkcs12FromFile(pfx, null), cer), "the silo port refused the cluster certificate");
    }

    [Fact]
    public async Task A_TLS_silo_without_an_HTTP_port_serves_its_data_endpoint_over_TLS()
    {
        using var temp = new TempDirectory("oshuffle-tls-nohttp");
        var (pfx, cer) = ClusterCertificate.Create(temp.Combine("tls"));
        using var silo = ChildProcess.Start(RepoPaths.DotnetExecutable(),
        [
            RepoPaths.SiloDll, "--cluster-id", "tls-" + Guid.NewGuid().ToString("N")[..8], "--name", "s1",
            "--silo-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--data-port", "0", "--http-port", "-1", "--disk", temp.Combine("disk"), "--membership-dir", temp.Combine("membership"),
            "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Security:TlsCertificateFile", pfx,
        ]);
        SiloReady? ready = null;
        // Bounded: 60 s of 100 ms polls, or the silo's exit.
        for (int i = 0; i < 600 && ready is null && !silo.HasExited; i++)
        {
            ready = silo.Output.Select(SiloReady.TryParse).FirstOrDefault(r => r is not null);
            if (ready is null) await Task.Delay(100);
        }
        Assert.True(ready is not null, "the silo did not start: " + silo.Tail());
        string[] data = ready.Data.Split(':');
        await using var connection = await GridConnection.ConnectAsync(data[0], int.Parse(data[1], System.Globalization.CultureInfo.InvariantCulture),
            new GridConnectionOptions { Tls = new GridTlsOptions { TrustedCertificate = X509CertificateLoader.LoadCertificateFromFile(cer) } });
        Assert.Equal(ready.Identity, connection.Remote.SiloIdentity);
    }

    /// <summary>Starts an Orleans client of the grid without TLS (and without the connect retry), which must fail to connect.</summary>
    private static async Task ConnectPlainOrleansClientAsync(SiloProcessGrid grid)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (grid.ClusterId, grid.ClusterId));
            client.UseStaticClustering(grid.Silos.Select(s => System.Net.IPEndPoint.Parse(s.Gateway)).ToArray());
        });
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(Bound);
        await host.StartAsync(timeout.Token);
    }

    /// <summary>Whether a TLS handshake with Orleans' silo port completes (and the silo keeps the connection) presenting <paramref name="clientCertificate"/>.</summary>
    private static async Task<bool> SiloPortHandshakeAsync(string endpoint, X509Certificate2? clientCertificate, string cer)
    {
        var pinned = X509CertificateLoader.LoadCertificateFromFile(cer);
        string[] parts = endpoint.Split(':');
        using var socket = new TcpClient();
        await socket.ConnectAsync(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)).WaitAsync(Bound);
        await using var ssl = new SslStream(socket.GetStream());
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "orleans-shuffle",
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == pinned.Thumbprint,
            }).WaitAsync(Bound);
            // TLS 1.3 finishes the client's side before the server has checked the client's certificate:
            // a refused peer learns it at its first read, as a closed connection or an alert.
            var buffer = new byte[1];
            var read = ssl.ReadAsync(buffer).AsTask();
            var first = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(3)));
            return first != read || await read > 0;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return false;
        }
    }
}
