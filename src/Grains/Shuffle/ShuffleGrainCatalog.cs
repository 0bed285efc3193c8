using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>The ShuffleGrain activations of this silo: at most one per application id.</summary>
public sealed class ShuffleGrainCatalog(ISiloDirectory silos, TimeProvider time, ILoggerFactory loggers)
{
    private readonly ConcurrentDictionary<string, ShuffleGrain> _grains = new(StringComparer.Ordinal);
    private readonly SlotAwarePlacementDirector _placement = new();
    private readonly ILogger _logger = loggers.CreateLogger<ShuffleGrain>();

    public IEnumerable<ShuffleGrain> All => _grains.Values;

    public ShuffleGrain GetOrActivate(string appId) =>
        _grains.GetOrAdd(appId, id => new ShuffleGrain(id, silos, _placement, time, _logger));

    public ShuffleGrain? Find(string appId) => _grains.TryGetValue(appId, out var grain) ? grain : null;

    public void Deactivate(ShuffleGrain grain) => _grains.TryRemove(new KeyValuePair<string, ShuffleGrain>(grain.AppId, grain));
}
