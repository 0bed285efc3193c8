using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orleans.Shuffle.Grains.Placement;
using Orleans.Shuffle.Grains.Runtime;
using Orleans.Shuffle.Persistence;

namespace Orleans.Shuffle.Grains.Shuffle;

/// <summary>The ShuffleGrain activations of this silo: at most one per application id, each activated (state loaded) once.</summary>
public sealed class ShuffleGrainCatalog(ISiloDirectory silos, IGrainStorage storage, TimeProvider time, ILoggerFactory loggers)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<ShuffleGrain>>> _grains = new(StringComparer.Ordinal);
    private readonly SlotAwarePlacementDirector _placement = new();
    private readonly ILogger _logger = loggers.CreateLogger<ShuffleGrain>();

    /// <summary>Activations whose state is loaded.</summary>
    public IEnumerable<ShuffleGrain> All => _grains.Values.Where(g => g.Value.IsCompletedSuccessfully).Select(g => g.Value.Result);

    public async Task<ShuffleGrain> GetOrActivateAsync(string appId)
    {
        var lazy = _grains.GetOrAdd(appId, id => new Lazy<Task<ShuffleGrain>>(async () =>
        {
            var grain = new ShuffleGrain(id, silos, _placement, storage, time, _logger);
            await grain.ActivateAsync().ConfigureAwait(false);
            return grain;
        }));
        try
        {
            return await lazy.Value.ConfigureAwait(false);
        }
        catch
        {
            _grains.TryRemove(new KeyValuePair<string, Lazy<Task<ShuffleGrain>>>(appId, lazy));
            throw;
        }
    }

    public ShuffleGrain? Find(string appId) =>
        _grains.TryGetValue(appId, out var lazy) && lazy.Value.IsCompletedSuccessfully ? lazy.Value.Result : null;

    public void Deactivate(ShuffleGrain grain)
    {
        if (_grains.TryGetValue(grain.AppId, out var lazy) && lazy.Value.IsCompletedSuccessfully && ReferenceEquals(lazy.Value.Result, grain))
            _grains.TryRemove(new KeyValuePair<string, Lazy<Task<ShuffleGrain>>>(grain.AppId, lazy));
    }
}
