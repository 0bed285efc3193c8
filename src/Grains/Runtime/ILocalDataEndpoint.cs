using Orleans.Shuffle.Model;

namespace Orleans.Shuffle.Grains.Runtime;

/// <summary>
/// This silo as partition locations name it: its Orleans identity and the address of its data
/// endpoint. The silo's data endpoint provides it once its port is bound, which may be after Orleans
/// has started (port 0), so grains await it.
/// </summary>
public interface ILocalDataEndpoint
{
    Task<SiloEndpoint> Bound { get; }
}
