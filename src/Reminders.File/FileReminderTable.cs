using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Shuffle.FileStore;

namespace Orleans.Shuffle.Reminders.File;

/// <summary>
/// The embedded reminder table: one JSON file (<see cref="FileStoreLayout.RemindersFile"/>) shared by
/// the silos of one machine. Each change takes the file's lock and replaces it atomically; reads take
/// no lock. An upsert takes a new ETag; a removal must name the current one.
/// </summary>
public sealed class FileReminderTable : IReminderTable
{
    private readonly LockedJsonFile<ReminderDocument> _file;

    [ActivatorUtilitiesConstructor]
    public FileReminderTable(IOptions<FileReminderTableOptions> options, IOptions<ClusterOptions> cluster, TimeProvider time)
        : this(options.Value, cluster.Value.ClusterId, cluster.Value.ServiceId, time)
    {
    }

    /// <summary>The reminders of <paramref name="serviceId"/> in the directory of <paramref name="options"/> (or cluster <paramref name="clusterId"/>'s default).</summary>
    public FileReminderTable(FileReminderTableOptions options, string clusterId, string serviceId, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        FileStoreOptionsValidator<FileReminderTableOptions>.Check(options, FileReminderTableOptions.SectionName);
        ServiceId = serviceId;
        FilePath = Path.Combine(options.ResolveDirectory(clusterId), FileStoreLayout.RemindersFile);
        _file = new LockedJsonFile<ReminderDocument>(FilePath, () => new ReminderDocument(), options.LockTimeout, time: time);
    }

    public string ServiceId { get; }

    /// <summary>The reminders file.</summary>
    public string FilePath { get; }

    /// <summary>Reads the file once, so a file that is not a reminders document stops the silo at start-up.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _file.ReadAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken) =>
        (await ReadServiceAsync(cancellationToken).ConfigureAwait(false)).Find(r => r.Is(grainId, reminderName))?.ToEntry();

    public async Task<ReminderTableData> ReadRows(GrainId grainId, CancellationToken cancellationToken)
    {
        string id = grainId.ToString();
        var rows = await ReadServiceAsync(cancellationToken).ConfigureAwait(false);
        return new ReminderTableData(rows.Where(r => r.GrainId == id).Select(r => r.ToEntry()));
    }

    /// <summary>
    /// The reminders of the grains whose uniform hash is in the ring range (<paramref name="begin"/>, <paramref name="end"/>]:
    /// begin &lt; end is (begin, end]; begin &gt;= end wraps around, (begin, max] and [0, end].
    /// </summary>
    public async Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken)
    {
        var rows = await ReadServiceAsync(cancellationToken).ConfigureAwait(false);
        return new ReminderTableData(rows.Select(r => r.ToEntry()).Where(e => InRange(e.GrainId.GetUniformHashCode(), begin, end)));
    }

    public async Task<string?> UpsertRow(ReminderEntry entry, CancellationToken cancellationToken)
    {
        long etag = await _file.UpdateAsync(document =>
        {
            var rows = RowsOf(document);
            var row = rows.Find(r => r.Is(entry.GrainId, entry.ReminderName));
            if (row is null)
            {
                row = new ReminderRow { GrainId = entry.GrainId.ToString(), ReminderName = entry.ReminderName };
                rows.Add(row);
            }
            row.GrainHash = entry.GrainId.GetUniformHashCode();
            row.StartAt = entry.StartAt;
            row.Period = entry.Period;
            row.ETag = document.NextEtag();
            return (row.ETag, FileChange.Write);
        }, cancellationToken).ConfigureAwait(false);
        entry.ETag = etag.ToString(CultureInfo.InvariantCulture);
        return entry.ETag;
    }

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken) =>
        _file.UpdateAsync(document =>
        {
            var rows = RowsOf(document);
            int removed = rows.RemoveAll(r => r.Is(grainId, reminderName) && r.ETag.ToString(CultureInfo.InvariantCulture) == eTag);
            return (removed > 0, removed > 0 ? FileChange.Write : FileChange.None);
        }, cancellationToken);

    public Task TestOnlyClearTable(CancellationToken cancellationToken) =>
        _file.UpdateAsync(document => (true, document.Services.Remove(ServiceId) ? FileChange.Write : FileChange.None), cancellationToken);

    Task<ReminderEntry?> IReminderTable.ReadRow(GrainId grainId, string reminderName) => ReadRow(grainId, reminderName, CancellationToken.None);

    Task<ReminderTableData> IReminderTable.ReadRows(GrainId grainId) => ReadRows(grainId, CancellationToken.None);

    Task<ReminderTableData> IReminderTable.ReadRows(uint begin, uint end) => ReadRows(begin, end, CancellationToken.None);

    Task<string?> IReminderTable.UpsertRow(ReminderEntry entry) => UpsertRow(entry, CancellationToken.None);

    Task<bool> IReminderTable.RemoveRow(GrainId grainId, string reminderName, string eTag) => RemoveRow(grainId, reminderName, eTag, CancellationToken.None);

    Task IReminderTable.TestOnlyClearTable() => TestOnlyClearTable(CancellationToken.None);

    /// <summary>Orleans' ring-range rule for (begin, end].</summary>
    public static bool InRange(uint hash, uint begin, uint end) => begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;

    private async Task<List<ReminderRow>> ReadServiceAsync(CancellationToken cancellationToken) =>
        (await _file.ReadAsync(cancellationToken).ConfigureAwait(false)).Services.GetValueOrDefault(ServiceId) ?? [];

    private List<ReminderRow> RowsOf(ReminderDocument document)
    {
        if (!document.Services.TryGetValue(ServiceId, out var rows)) document.Services[ServiceId] = rows = [];
        return rows;
    }
}
