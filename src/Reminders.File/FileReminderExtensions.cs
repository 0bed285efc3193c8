using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Reminders.File;

namespace Orleans.Hosting;

/// <summary>Silo builder extensions of the embedded (File) reminder table.</summary>
public static class FileReminderExtensions
{
    /// <summary>
    /// Adds Orleans' reminder service, with its reminders in reminders.json of
    /// <see cref="FileStoreOptions.Directory"/> (default $TMPDIR/orleans-shuffle/&lt;cluster-id&gt;).
    /// </summary>
    public static ISiloBuilder UseFileReminderService(this ISiloBuilder builder, Action<FileReminderTableOptions>? configure = null) =>
        builder.ConfigureServices(services =>
        {
            services.AddReminders();
            if (configure is not null) services.Configure(configure);
            services.ConfigureFormatter<FileReminderTableOptions>();
            services.AddSingleton<IConfigurationValidator>(sp => new FileStoreOptionsValidator<FileReminderTableOptions>(
                sp.GetRequiredService<IOptions<FileReminderTableOptions>>().Value, FileReminderTableOptions.SectionName));
            services.AddSingleton<IReminderTable>(sp => ActivatorUtilities.CreateInstance<FileReminderTable>(sp));
        });
}
