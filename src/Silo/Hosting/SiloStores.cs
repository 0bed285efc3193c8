using Orleans.Hosting;
using Orleans.Shuffle.Clustering.DynamoDB;
using Orleans.Shuffle.Clustering.File;
using Orleans.Shuffle.Grains.Shuffle;
using Orleans.Shuffle.Persistence.DynamoDB;
using Orleans.Shuffle.Persistence.File;
using Orleans.Shuffle.Reminders.DynamoDB;
using Orleans.Shuffle.Reminders.File;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// The three control-plane stores of a silo, on the provider Membership:Provider names: Orleans'
/// membership table, the grain storage of the ShuffleGrain's state, and the reminder table of
/// application expiry. Providers are Orleans provider projects of their own (src/Clustering.*,
/// src/Persistence.*, src/Reminders.*).
/// </summary>
internal static class SiloStores
{
    public static void Add(ISiloBuilder silo, SiloConfiguration config)
    {
        var membership = config.Membership;
        if (membership.UsesDynamoDB)
        {
            var dynamo = membership.DynamoDB;
            silo.UseDynamoDBClustering(o => dynamo.Apply(o, dynamo.SilosTableName));
            silo.AddDynamoDBGrainStorage(ShuffleGrain.StorageName, o => dynamo.Apply(o, dynamo.GrainStateTableName));
            silo.UseDynamoDBReminderService(o => dynamo.Apply(o, dynamo.RemindersTableName));
            return;
        }
        string directory = membership.Directory;
        silo.UseFileClustering(o => o.Directory = directory);
        silo.AddFileGrainStorage(ShuffleGrain.StorageName, o => o.Directory = directory);
        silo.UseFileReminderService(o => o.Directory = directory);
    }
}
