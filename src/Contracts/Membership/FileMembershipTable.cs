using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.Shuffle.Membership;

/// <summary>
/// The embedded membership table: one JSON file per cluster id, shared by every silo process on a
/// machine, so a local grid needs no setup. Each operation takes an exclusive lock file (flock on
/// Linux), reads the file, checks etags like Orleans' tables do, and replaces the file atomically
/// by rename. Suited to one machine; production uses DynamoDB behind the same interface.
/// </summary>
public sealed class FileMembershipTable(string path, string clusterId, TimeSpan? lockTimeout = null) : IMembershipTable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly TimeSpan _lockTimeout = lockTimeout ?? TimeSpan.FromSeconds(30);

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public string ClusterId { get; } = clusterId;

    /// <summary>The default file of a cluster id: under the system temp directory.</summary>
    public static string DefaultPath(string clusterId) =>
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), "orleans-shuffle", clusterId, "membership.json");

    public Task InitializeMembershipTable(bool tryInitTableVersion) => WithLock(file =>
    {
        if (file.Rows is null) throw new InvalidDataException("Membership file has no rows.");
        return (true, false);
    });

    public Task DeleteMembershipTableEntries(string clusterId) => WithLock(file =>
    {
        if (clusterId != ClusterId) return (true, false);
        file.Rows.Clear();
        return (true, true);
    });

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => WithLock(file =>
    {
        int removed = file.Rows.RemoveAll(r => r.Entry.Status != SiloStatus.Active && r.Entry.IAmAliveTime < beforeDate);
        return (true, removed > 0);
    });

    public async Task<MembershipTableData> ReadRow(SiloAddress key)
    {
        var all = await ReadAll().ConfigureAwait(false);
        return all with { Members = all.Members.Where(m => m.Entry.SiloAddress == key).ToList() };
    }

    public async Task<MembershipTableData> ReadAll()
    {
        MembershipTableData? data = null;
        await WithLock(file =>
        {
            data = new MembershipTableData(
                file.Rows.Select(r => new MembershipRow(r.Entry.Copy(), r.Etag)).ToList(),
                new TableVersion(file.Version, file.VersionEtag));
            return (true, false);
        }).ConfigureAwait(false);
        return data!;
    }

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => WithLock(file =>
    {
        if (file.VersionEtag != tableVersion.VersionEtag) return (false, false);
        if (file.Rows.Any(r => r.Entry.SiloAddress == entry.SiloAddress)) return (false, false);
        file.Rows.Add(new FileRow { Entry = entry.Copy(), Etag = "0" });
        file.Bump(tableVersion);
        return (true, true);
    });

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => WithLock(file =>
    {
        if (file.VersionEtag != tableVersion.VersionEtag) return (false, false);
        int index = file.Rows.FindIndex(r => r.Entry.SiloAddress == entry.SiloAddress);
        if (index < 0 || file.Rows[index].Etag != etag) return (false, false);
        file.Rows[index] = new FileRow { Entry = entry.Copy(), Etag = NextEtag(etag) };
        file.Bump(tableVersion);
        return (true, true);
    });

    public Task UpdateIAmAlive(MembershipEntry entry) => WithLock(file =>
    {
        var row = file.Rows.Find(r => r.Entry.SiloAddress == entry.SiloAddress)
            ?? throw new KeyNotFoundException($"No membership row for {entry.SiloAddress}.");
        row.Entry.IAmAliveTime = entry.IAmAliveTime;
        return (true, true);
    });

    private static string NextEtag(string etag) => (int.TryParse(etag, out int n) ? n + 1 : 1).ToString();

    /// <summary>Runs <paramref name="change"/> on the file under the lock; it returns (result, whether to write).</summary>
    private async Task<bool> WithLock(Func<FileContents, (bool Result, bool Write)> change)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        using var lockFile = await AcquireLockAsync().ConfigureAwait(false);
        var file = File.Exists(Path)
            ? JsonSerializer.Deserialize<FileContents>(await File.ReadAllBytesAsync(Path).ConfigureAwait(false), Json)
              ?? throw new InvalidDataException($"Membership file {Path} is empty.")
            : new FileContents { ClusterId = ClusterId };
        if (file.ClusterId != ClusterId)
            throw new InvalidDataException($"Membership file {Path} belongs to cluster '{file.ClusterId}', not '{ClusterId}'.");
        var (result, write) = change(file);
        if (write || !File.Exists(Path))
        {
            string temp = Path + ".tmp";
            await File.WriteAllBytesAsync(temp, JsonSerializer.SerializeToUtf8Bytes(file, Json)).ConfigureAwait(false);
            File.Move(temp, Path, overwrite: true);
        }
        return result;
    }

    private async Task<FileStream> AcquireLockAsync()
    {
        var deadline = DateTime.UtcNow + _lockTimeout;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(Path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(Math.Min(1 + attempt, 20)).ConfigureAwait(false);
            }
        }
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
