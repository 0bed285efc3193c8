using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Client.Hosting;
using Orleans.Shuffle.Clustering.DynamoDB;
using Orleans.Shuffle.Clustering.File;

namespace Orleans.Shuffle.Job;

/// <summary>The job's DynamoDB settings (--dynamodb-service, --dynamodb-table), for its silos and its clients alike.</summary>
internal sealed record DynamoDBSettings(string Service, string? TableName = null)
{
    public string Table => TableName ?? DynamoDBClusteringOptions.DefaultTableName;

    public DynamoDBClusteringOptions ToOptions() => new() { Service = Service, TableName = Table };

    /// <summary>Every problem of the settings, named by the job's own flags.</summary>
    public IEnumerable<string> Validate() => ToOptions().Validate("DynamoDB").Select(problem => problem
        .Replace("DynamoDB:Service", "--dynamodb-service", StringComparison.Ordinal)
        .Replace("DynamoDB:TableName", "--dynamodb-table", StringComparison.Ordinal));

    /// <summary>What a silo of a local grid needs on its command line to keep its stores in DynamoDB.</summary>
    public IReadOnlyList<string> SiloArguments()
    {
        var args = new List<string> { "--membership", "dynamodb", "--dynamodb-service", Service };
        if (TableName is not null) args.Add("--Membership:DynamoDB:SilosTableName=" + TableName);
        return args;
    }

    public override string ToString() => $"DynamoDB table {Table} at {ToOptions().Where}";
}

/// <summary>
/// How a process of the job (driver or executor) reaches the grid's Orleans cluster: the cluster id
/// and its service id, and where the Orleans client finds the gateways: the Active rows of the
/// embedded membership table in a directory, of a DynamoDB membership table, or fixed gateway
/// endpoints (--grid). Executors get it on their command line (<see cref="ToArguments"/>).
/// </summary>
internal sealed record GridAccess(string ClusterId, string? MembershipDirectory, DynamoDBSettings? DynamoDB, IReadOnlyList<string>? Gateways)
{
    /// <summary>How this process's writers store batches; travels to executors with the rest.</summary>
    public Orleans.Shuffle.Batches.BatchCodec Compression { get; init; } = Orleans.Shuffle.Batches.BatchCodec.Lz4;

    /// <summary>The writers' merged push size (--merged-push-bytes); null keeps the client's default. Travels to executors too.</summary>
    public int? MergedPushBytes { get; init; }

    /// <summary>The grid's TLS certificate (a .cer/.pem, or the .pfx), pinned by every client of the job; null for plain TCP. Travels to executors.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>The grid's Orleans ServiceId: the silos' default, its cluster id.</summary>
    public string ServiceId => ClusterId;

    public override string ToString() =>
        DynamoDB is not null ? $"cluster {ClusterId} in the {DynamoDB}"
        : Gateways is not null ? $"cluster {ClusterId} at gateways {GridEndpoints.Format(Gateways)}"
        : $"cluster {ClusterId} in {MembershipDirectory}";

    /// <summary>Starts an Orleans client of the cluster and a grid client over it; disposing the result stops both.</summary>
    public async Task<JobGridClient> ConnectAsync(string clientName, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        // Orleans' warnings are worth seeing in a task's log; the rest is noise there. The console logger writes to stdout,
        // which the executor protocol tolerates (only its own prefixed lines mean anything).
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = ClusterId;
                o.ServiceId = ServiceId;
            });
            if (DynamoDB is not null)
            {
                client.UseDynamoDBClustering(o =>
                {
                    o.Service = DynamoDB.Service;
                    o.TableName = DynamoDB.Table;
                });
            }
            else if (Gateways is not null) client.UseStaticClustering(Gateways.Select(ParseEndpoint).ToArray());
            else client.UseFileClustering(o => o.Directory = MembershipDirectory!);
            // A gateway that resets the first connection, or silos still starting, must not fail the task.
            client.UseClusterConnectRetry();
            // A hung silo's gateway is dropped seconds after the membership declares it Dead, not a minute.
            client.UseGatewayRefresh();
            if (LoadTlsCertificate() is { } certificate) client.UseGridTls(certificate);
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(ct).ConfigureAwait(false);
            var cluster = host.Services.GetRequiredService<IClusterClient>();
            return new JobGridClient(host, cluster, new GridClient(cluster, ClientOptions(clientName)));
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private GridClientOptions ClientOptions(string clientName)
    {
        var options = new GridClientOptions { ClientName = clientName, Compression = Compression, TlsCertificate = LoadTlsCertificate() };
        if (MergedPushBytes is int merged) options.MergedPushBytes = merged;
        return options;
    }

    /// <summary>The arguments that give an executor this access (parsed back by <see cref="ExecutorCommand"/>).</summary>
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string> { "--cluster-id", ClusterId, "--compression", Compression.ToString().ToLowerInvariant() };
        if (MergedPushBytes is int merged) args.AddRange(["--merged-push-bytes", merged.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (TlsCertificate is not null) args.AddRange(["--tls-certificate", TlsCertificate]);
        if (DynamoDB is not null)
        {
            args.AddRange(["--dynamodb-service", DynamoDB.Service]);
            if (DynamoDB.TableName is not null) args.AddRange(["--dynamodb-table", DynamoDB.TableName]);
        }
        else if (Gateways is not null)
        {
            args.AddRange(["--grid", GridEndpoints.Format(Gateways)]);
        }
        else
        {
            args.AddRange(["--membership-dir", MembershipDirectory!]);
        }
        return args;
    }

    private System.Security.Cryptography.X509Certificates.X509Certificate2? LoadTlsCertificate() =>
        TlsCertificate is null ? null : ClusterCertificate.Load(TlsCertificate);

    private static IPEndPoint ParseEndpoint(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        string host = endpoint[..colon].Trim('[', ']');
        int port = int.Parse(endpoint.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
        var address = IPAddress.TryParse(host, out var parsed) ? parsed : Dns.GetHostAddresses(host).First();
        return new IPEndPoint(address, port);
    }
}

/// <summary>A job process's Orleans client (in its own host) and the grid client over it.</summary>
internal sealed class JobGridClient(IHost host, IClusterClient cluster, GridClient client) : IAsyncDisposable
{
    public GridClient Client { get; } = client;

    public IClusterClient Cluster { get; } = cluster;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await host.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // A client that cannot say goodbye to a dead grid still goes.
        }
        host.Dispose();
    }
}
