using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.FileStore;

namespace Orleans.Shuffle.Clustering.File;

/// <summary>
/// The embedded membership table: one JSON file (<see cref="FileStoreLayout.MembershipFile"/>) that
/// every silo process of a machine shares, so a local cluster needs no setup. No silo owns the file:
/// each change takes its lock file, checks the etags as Orleans' tables do, and replaces the file
/// atomically; the lock goes with a process that dies, so the cluster outlives any of its silos
/// (Orleans' development clustering, by contrast, lives in its primary silo). Reads take no lock.
/// For one machine; across machines use DynamoDB clustering.
/// </summary>
public sealed partial class FileMembershipTable : IMembershipTable
{
    private readonly LockedJsonFile<MembershipDocument> _file;
    private readonly ILogger _logger;

    [ActivatorUtilitiesConstructor]
    public FileMembershipTable(IOptions<FileClusteringOptions> options, IOptions<ClusterOptions> cluster, ILogger<FileMembershipTable> logger, TimeProvider time)
        : this(options.Value, cluster.Value.ClusterId, logger, time)
    {
    }

    /// <summary>The table of <paramref name="clusterId"/> in the directory of <paramref name="options"/>.</summary>
    public FileMembershipTable(FileClusteringOptions options, string clusterId, ILogger<FileMembershipTable>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        FileStoreOptionsValidator<FileClusteringOptions>.Check(options, FileClusteringOptions.SectionName);
        ClusterId = clusterId;
        FilePath = MembershipFilePath(options, clusterId);
        _file = new LockedJsonFile<MembershipDocument>(FilePath, () => new MembershipDocument(), options.LockTimeout, time: time);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public string ClusterId { get; }

    /// <summary>The membership file.</summary>
    public string FilePath { get; }

    /// <summary>The membership file of <paramref name="clusterId"/> with <paramref name="options"/>.</summary>
    public static string MembershipFilePath(FileClusteringOptions options, string clusterId) =>
        Path.Combine(options.ResolveDirectory(clusterId), FileStoreLayout.MembershipFile);

    /// <summary>Creates the file and, if <paramref name="tryInitTableVersion"/>, the cluster's entry (version 0), unless they exist.</summary>
    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken = default)
    {
        bool created = await _file.UpdateAsync(document =>
        {
            if (!tryInitTableVersion || document.Clusters.ContainsKey(ClusterId)) return (false, FileChange.None);
            document.Clusters[ClusterId] = new ClusterRows();
            return (true, FileChange.Write);
        }, cancellationToken).ConfigureAwait(false);
        if (created) LogClusterCreated(_logger, ClusterId, FilePath);
    }

    public Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken = default) =>
        _file.UpdateAsync(document => (true, document.Clusters.Remove(clusterId) ? FileChange.Write : FileChange.None), cancellationToken);

    public Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken = default) =>
        _file.UpdateAsync(document =>
        {
            if (!document.Clusters.TryGetValue(ClusterId, out var cluster)) return (0, FileChange.None);
            int removed = cluster.Rows.RemoveAll(r => r.Status != SiloStatus.Active && new DateTimeOffset(r.IAmAliveTime, TimeSpan.Zero) < beforeDate);
            return (removed, removed > 0 ? FileChange.Write : FileChange.None);
        }, cancellationToken);

    public async Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken = default)
    {
        var document = await _file.ReadAsync(cancellationToken).ConfigureAwait(false);
        var cluster = document.Clusters.GetValueOrDefault(ClusterId);
        var rows = cluster?.Find(key) is { } row ? [row] : new List<MembershipRow>();
        return Data(cluster, rows);
    }

    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        var document = await _file.ReadAsync(cancellationToken).ConfigureAwait(false);
        var cluster = document.Clusters.GetValueOrDefault(ClusterId);
        return Data(cluster, cluster?.Rows ?? []);
    }

    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default) =>
        _file.UpdateAsync(document =>
        {
            var cluster = document.Clusters.GetValueOrDefault(ClusterId) ?? new ClusterRows();
            if (!VersionMatches(cluster, tableVersion) || cluster.Find(entry.SiloAddress) is not null) return (false, FileChange.None);
            cluster.Rows.Add(MembershipRow.From(entry, document.NextEtag()));
            Bump(document, cluster, tableVersion);
            return (true, FileChange.Write);
        }, cancellationToken);

    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default) =>
        _file.UpdateAsync(document =>
        {
            if (!document.Clusters.TryGetValue(ClusterId, out var cluster) || !VersionMatches(cluster, tableVersion)) return (false, FileChange.None);
            var row = cluster.Find(entry.SiloAddress);
            if (row is null || Etag(row.Etag) != etag) return (false, FileChange.None);
            cluster.Rows[cluster.Rows.IndexOf(row)] = MembershipRow.From(entry, document.NextEtag());
            Bump(document, cluster, tableVersion);
            return (true, FileChange.Write);
        }, cancellationToken);

    public Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken = default) =>
        _file.UpdateAsync(document =>
        {
            var row = document.Clusters.GetValueOrDefault(ClusterId)?.Find(entry.SiloAddress)
                ?? throw new KeyNotFoundException($"No membership row for silo {entry.SiloAddress} of cluster '{ClusterId}' in {FilePath}.");
            row.IAmAliveTime = MembershipRow.Utc(entry.IAmAliveTime);
            return (true, FileChange.Write);
        }, cancellationToken);

    // The interface's older forms, without a cancellation token.
    Task IMembershipTable.InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion);

    Task IMembershipTable.DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId);

    Task IMembershipTable.CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate);

    Task<MembershipTableData> IMembershipTable.ReadRow(SiloAddress key) => ReadRowAsync(key);

    Task<MembershipTableData> IMembershipTable.ReadAll() => ReadAllAsync();

    Task<bool> IMembershipTable.InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion);

    Task<bool> IMembershipTable.UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion);

    Task IMembershipTable.UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry);

    private static MembershipTableData Data(ClusterRows? cluster, IEnumerable<MembershipRow> rows) => new(
        rows.Select(r => Tuple.Create(r.ToEntry(), Etag(r.Etag))).ToList(),
        new TableVersion(cluster?.Version ?? 0, Etag(cluster?.VersionEtag ?? 0)));

    private static bool VersionMatches(ClusterRows cluster, TableVersion tableVersion) => Etag(cluster.VersionEtag) == tableVersion.VersionEtag;

    private void Bump(MembershipDocument document, ClusterRows cluster, TableVersion written)
    {
        cluster.Version = written.Version;
        cluster.VersionEtag = document.NextEtag();
        document.Clusters[ClusterId] = cluster;
    }

    private static string Etag(long etag) => etag.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the membership of cluster {ClusterId} in {FilePath}.")]
    private static partial void LogClusterCreated(ILogger logger, string clusterId, string filePath);
}
