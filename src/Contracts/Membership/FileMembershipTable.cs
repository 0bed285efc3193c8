using Orleans.Shuffle.Storage;

namespace Orleans.Shuffle.Membership;

/// <summary>
/// The embedded membership table: one JSON file per cluster id, shared by every silo process on a
/// machine, so a local grid needs no setup. Each operation reads the file under a lock, checks etags
/// as Orleans' tables do, and replaces the file atomically. Suited to one machine; production uses
/// DynamoDB behind the same interface.
/// </summary>
public sealed class FileMembershipTable : IMembershipTable
{
    private readonly LockedJsonFile<FileContents> _file;

    public FileMembershipTable(string path, string clusterId, TimeSpan? lockTimeout = null)
    {
        ClusterId = clusterId;
        _file = new LockedJsonFile<FileContents>(path, () => new FileContents { ClusterId = clusterId }, lockTimeout);
    }

    public string Path => _file.Path;

    public string ClusterId { get; }

    /// <summary>The default file of a cluster id: under the system temp directory.</summary>
    public static string DefaultPath(string clusterId) =>
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), "orleans-shuffle", clusterId, "membership.json");

    public Task InitializeMembershipTable(bool tryInitTableVersion) => Change(file => (true, false));

    public Task DeleteMembershipTableEntries(string clusterId) => Change(file =>
    {
        if (clusterId != ClusterId) return (true, false);
        file.Rows.Clear();
        return (true, true);
    });

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => Change(file =>
    {
        int removed = file.Rows.RemoveAll(r => r.Entry.Status != SiloStatus.Active && r.Entry.IAmAliveTime < beforeDate);
        return (true, removed > 0);
    });

    public async Task<MembershipTableData> ReadRow(SiloAddress key)
    {
        var all = await ReadAll().ConfigureAwait(false);
        return all with { Members = all.Members.Where(m => m.Entry.SiloAddress == key).ToList() };
    }

    public Task<MembershipTableData> ReadAll() => _file.ReadAsync(file =>
    {
        Check(file);
        return new MembershipTableData(
            file.Rows.Select(r => new MembershipRow(r.Entry.Copy(), r.Etag)).ToList(),
            new TableVersion(file.Version, file.VersionEtag));
    });

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => Change(file =>
    {
        if (file.VersionEtag != tableVersion.VersionEtag) return (false, false);
        if (file.Rows.Any(r => r.Entry.SiloAddress == entry.SiloAddress)) return (false, false);
        file.Rows.Add(new FileRow { Entry = entry.Copy(), Etag = "0" });
        file.Bump(tableVersion);
        return (true, true);
    });

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => Change(file =>
    {
        if (file.VersionEtag != tableVersion.VersionEtag) return (false, false);
        int index = file.Rows.FindIndex(r => r.Entry.SiloAddress == entry.SiloAddress);
        if (index < 0 || file.Rows[index].Etag != etag) return (false, false);
        file.Rows[index] = new FileRow { Entry = entry.Copy(), Etag = NextEtag(etag) };
        file.Bump(tableVersion);
        return (true, true);
    });

    public Task UpdateIAmAlive(MembershipEntry entry) => Change(file =>
    {
        var row = file.Rows.Find(r => r.Entry.SiloAddress == entry.SiloAddress)
            ?? throw new KeyNotFoundException($"No membership row for {entry.SiloAddress}.");
        row.Entry.IAmAliveTime = entry.IAmAliveTime;
        return (true, true);
    });

    private static string NextEtag(string etag) => (int.TryParse(etag, out int n) ? n + 1 : 1).ToString();

    private Task<bool> Change(Func<FileContents, (bool Result, bool Write)> change) => _file.UpdateAsync(file =>
    {
        Check(file);
        return change(file);
    });

    private void Check(FileContents file)
    {
        if (file.ClusterId != ClusterId)
            throw new InvalidDataException($"Membership file {Path} belongs to cluster '{file.ClusterId}', not '{ClusterId}'.");
    }

    private sealed class FileRow
    {
        public required MembershipEntry Entry { get; set; }

        public required string Etag { get; set; }
    }

    private sealed class FileContents
    {
        public required string ClusterId { get; set; }

        public int Version { get; set; }

        public string VersionEtag { get; set; } = "0";

        public List<FileRow> Rows { get; set; } = [];

        public void Bump(TableVersion written)
        {
            Version = Math.Max(Version, written.Version);
            VersionEtag = NextEtag(VersionEtag);
        }
    }
}
