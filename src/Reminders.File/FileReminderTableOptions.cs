using Orleans.Shuffle.FileStore;

namespace Orleans.Shuffle.Reminders.File;

/// <summary>
/// Settings of the embedded reminder table: the file <see cref="FileStoreLayout.RemindersFile"/> in
/// <see cref="FileStoreOptions.Directory"/>. Reminders belong to Orleans' ClusterOptions.ServiceId.
/// </summary>
public sealed class FileReminderTableOptions : FileStoreOptions
{
    /// <summary>Where the settings are named in messages.</summary>
    public const string SectionName = "FileReminders";
}
