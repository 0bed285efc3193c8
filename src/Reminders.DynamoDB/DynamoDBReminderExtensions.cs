using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Shuffle.AWSUtils;
using Orleans.Shuffle.Reminders.DynamoDB;

namespace Orleans.Hosting;

/// <summary>Silo builder extensions of the DynamoDB reminder table.</summary>
public static class DynamoDBReminderExtensions
{
    /// <summary>Adds Orleans' reminder service, with its reminders in the DynamoDB table <see cref="DynamoDBReminderTableOptions.TableName"/>.</summary>
    public static ISiloBuilder UseDynamoDBReminderService(this ISiloBuilder builder, Action<DynamoDBReminderTableOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices(services =>
        {
            services.AddReminders();
            services.Configure(configure);
            services.ConfigureFormatter<DynamoDBReminderTableOptions>();
            services.AddSingleton<IConfigurationValidator>(sp => new DynamoDBOptionsValidator<DynamoDBReminderTableOptions>(
                sp.GetRequiredService<IOptions<DynamoDBReminderTableOptions>>().Value, DynamoDBReminderTableOptions.SectionName));
            services.AddSingleton<IReminderTable>(sp => ActivatorUtilities.CreateInstance<DynamoDBReminderTable>(sp));
        });
    }
}
