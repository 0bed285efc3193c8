namespace Orleans.Shuffle.GrainDirectory;

/// <summary>
/// Orleans' grain directory contract (IGrainDirectory): the registry that makes an activation single.
/// The first registration of a grain id wins; a later one gets the winner back and must forward to
/// it. A registration whose silo died is replaced by naming it as <c>previousAddress</c>.
/// </summary>
public interface IGrainDirectory
{
    /// <summary>
    /// Registers <paramref name="address"/> if the grain has no registration, or if its registration
    /// is still <paramref name="previousAddress"/>. Returns the registration that holds afterwards.
    /// </summary>
    Task<GrainAddress> Register(GrainAddress address, GrainAddress? previousAddress);

    Task<GrainAddress?> Lookup(string grainId);

    /// <summary>Removes the registration if it is still <paramref name="address"/>.</summary>
    Task Unregister(GrainAddress address);

    /// <summary>Removes every registration on these silos (they are dead).</summary>
    Task UnregisterSilos(IReadOnlyCollection<string> siloIdentities);
}
