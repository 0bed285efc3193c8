using System.Text.Json;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Reminders.File;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Reminders;

/// <summary>The conformance suite on the embedded reminders file, plus what is particular to it.</summary>
public sealed class FileReminderTableTests : ReminderTableTestsBase
{
    private readonly TempDirectory _directory = new("oshuffle-reminders");

    protected override IReminderTable OpenTable(string serviceId) =>
        new FileReminderTable(new FileReminderTableOptions { Directory = _directory.Path }, "cluster-a", serviceId);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task The_reminders_are_one_file_in_the_directory()
    {
        var reminder = NewReminder(NewGrain());
        await Table.UpsertRow(reminder, CancellationToken.None);
        var table = (FileReminderTable)Table;
        Assert.Equal(_directory.Combine(FileStoreLayout.RemindersFile), table.FilePath);
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(table.FilePath));
        var row = json.RootElement.GetProperty("Services").GetProperty(ServiceId)[0];
        Assert.Equal(reminder.GrainId.ToString(), row.GetProperty("GrainId").GetString());
        Assert.Equal(reminder.GrainId.GetUniformHashCode(), row.GetProperty("GrainHash").GetUInt32());
    }

    [Fact]
    public async Task A_file_that_is_not_a_reminders_document_stops_the_start_with_its_path()
    {
        var table = (FileReminderTable)Table;
        await File.WriteAllTextAsync(table.FilePath, "[1, 2");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => OpenTable(ServiceId).StartAsync());
        Assert.Contains(table.FilePath, e.Message);
        File.Delete(table.FilePath);
    }
}
