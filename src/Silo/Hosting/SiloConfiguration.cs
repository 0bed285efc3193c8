using Microsoft.Extensions.Configuration;
using Orleans.Shuffle.GrainDirectory;
using Orleans.Shuffle.Persistence;
using Orleans.Shuffle.Grains.Storage;
using Orleans.Shuffle.Membership;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>A configuration problem found at start-up, with every failure listed.</summary>
public sealed class SiloConfigurationException(IReadOnlyList<string> failures)
    : Exception("Invalid silo configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", failures))
{
    public IReadOnlyList<string> Failures { get; } = failures;
}

/// <summary>
/// All options of a silo, bound from configuration (appsettings.json, SHUFFLE_-prefixed environment
/// variables, command line), with defaults filled in and validated before anything starts.
/// </summary>
public sealed record SiloConfiguration(
    SiloOptions Silo, NetworkOptions Network, MembershipOptions Membership, StorageOptions Storage, ApplicationOptions Applications)
{
    /// <summary>Short command-line switches for the settings people change most.</summary>
    public static readonly IReadOnlyDictionary<string, string> SwitchMappings = new Dictionary<string, string>
    {
        ["--cluster-id"] = "Silo:ClusterId",
        ["--name"] = "Silo:Name",
        ["--listen"] = "Silo:ListenAddress",
        ["--host"] = "Silo:AdvertisedHost",
        ["--port"] = "Silo:Port",
        ["--http-port"] = "Silo:HttpPort",
        ["--fault-zone"] = "Silo:FaultZone",
        ["--disk"] = "Storage:Directories:0",
        ["--slots"] = "Storage:SlotsPerDisk",
        ["--membership-file"] = "Membership:FilePath",
        ["--membership"] = "Membership:Provider",
        ["--dynamodb-service"] = "Membership:DynamoDB:Service",
    };

    public static SiloConfiguration Load(IConfiguration configuration)
    {
        var failures = new List<string>();
        T Bind<T>(string section) where T : new()
        {
            try
            {
                return configuration.GetSection(section).Get<T>() ?? new T();
            }
            catch (InvalidOperationException e)
            {
                failures.Add($"{section}: {e.Message}");
                return new T();
            }
        }

        var config = new SiloConfiguration(
            Bind<SiloOptions>(SiloOptions.SectionName),
            Bind<NetworkOptions>(NetworkOptions.SectionName),
            Bind<MembershipOptions>(MembershipOptions.SectionName),
            Bind<StorageOptions>(StorageOptions.SectionName),
            Bind<ApplicationOptions>(ApplicationOptions.SectionName));
        config.FillDefaults();
        if (config.Membership.UsesDynamoDB)
        {
            // Every read of a DynamoDB table is billed: unless told otherwise, use Orleans' periods
            // there (gossip still spreads changes at once).
            if (configuration["Membership:IAmAlivePeriod"] is null) config.Membership.IAmAlivePeriod = MembershipOptions.DynamoDBIAmAlivePeriod;
            if (configuration["Membership:TableRefreshPeriod"] is null) config.Membership.TableRefreshPeriod = MembershipOptions.DynamoDBTableRefreshPeriod;
        }
        failures.AddRange(config.Silo.Validate());
        failures.AddRange(config.Network.Validate());
        failures.AddRange(config.Membership.Validate());
        failures.AddRange(config.Storage.Validate());
        failures.AddRange(config.Applications.Validate());
        if (failures.Count > 0) throw new SiloConfigurationException(failures);
        return config;
    }

    private void FillDefaults()
    {
        string clusterId = string.IsNullOrWhiteSpace(Silo.ClusterId) ? "dev" : Silo.ClusterId;
        if (string.IsNullOrEmpty(Membership.FilePath)) Membership.FilePath = FileMembershipTable.DefaultPath(clusterId);
        if (string.IsNullOrEmpty(Membership.GrainDirectoryPath)) Membership.GrainDirectoryPath = FileGrainDirectory.PathBeside(Membership.FilePath);
        if (string.IsNullOrEmpty(Membership.GrainStoragePath)) Membership.GrainStoragePath = FileGrainStorage.PathBeside(Membership.FilePath);
        if (string.IsNullOrEmpty(Silo.Name)) Silo.Name = Silo.Port == 0 ? $"silo-{Environment.ProcessId}" : $"silo-{Silo.Port}";
        if (Storage.Directories.Count == 0)
            Storage.Directories.Add(Path.Combine(Path.GetTempPath(), "orleans-shuffle", clusterId, Silo.Name, "disk0"));
    }
}
