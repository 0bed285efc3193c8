using Orleans.Shuffle.Storage;

namespace Orleans.Shuffle.GrainDirectory;

/// <summary>The embedded grain directory: one JSON file shared by the silos of one machine, next to the membership table.</summary>
public sealed class FileGrainDirectory(string path, TimeSpan? lockTimeout = null) : IGrainDirectory
{
    private readonly LockedJsonFile<Dictionary<string, string>> _file = new(path, () => new Dictionary<string, string>(StringComparer.Ordinal), lockTimeout);

    /// <summary>The default file: beside the membership table.</summary>
    public static string PathBeside(string membershipFile) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(membershipFile))!, "grain-directory.json");

    public Task<GrainAddress> Register(GrainAddress address, GrainAddress? previousAddress) => _file.UpdateAsync(registrations =>
    {
        if (registrations.TryGetValue(address.GrainId, out string? silo) && silo != previousAddress?.SiloIdentity)
            return (new GrainAddress(address.GrainId, silo), false);
        registrations[address.GrainId] = address.SiloIdentity;
        return (address, true);
    });

    public Task<GrainAddress?> Lookup(string grainId) => _file.ReadAsync(registrations =>
        registrations.TryGetValue(grainId, out string? silo) ? new GrainAddress(grainId, silo) : null);

    public Task Unregister(GrainAddress address) => _file.UpdateAsync(registrations =>
    {
        bool owned = registrations.TryGetValue(address.GrainId, out string? silo) && silo == address.SiloIdentity;
        return (owned && registrations.Remove(address.GrainId), owned);
    });

    public Task UnregisterSilos(IReadOnlyCollection<string> siloIdentities) => _file.UpdateAsync(registrations =>
    {
        var doomed = registrations.Where(r => siloIdentities.Contains(r.Value)).Select(r => r.Key).ToList();
        foreach (string grainId in doomed) registrations.Remove(grainId);
        return (doomed.Count, doomed.Count > 0);
    });
}
