using System.Collections.Concurrent;
using Orleans.Shuffle.GrainInterfaces;
using Orleans.Shuffle.Security;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>
/// What a driver hands its executors, for the clients of one test cluster: the secrets of the
/// applications registered through the cluster's Orleans client. As an outgoing filter of that client
/// it learns each secret from the RegisterApplication call that carries it (from a GridClient or a
/// test's direct grain call), and <see cref="Learned"/> hands it to the test's GridClients, as a
/// driver hands it to its executors. It puts a control token only on the direct ShuffleGrain calls
/// of applications a test asked it to (<see cref="Of"/>, <see cref="Trust"/>): a GridClient must
/// carry its own tokens, and a path that forgot them fails here as it would in production.
/// </summary>
public sealed class TestApplicationSecrets : IOutgoingGrainCallFilter
{
    private readonly ConcurrentDictionary<string, ApplicationSecret> _secrets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _direct = new(StringComparer.Ordinal);

    /// <summary>Raised once per application secret learned.</summary>
    public event Action<string, ApplicationSecret>? Learned;

    public IReadOnlyDictionary<string, ApplicationSecret> Known => _secrets;

    /// <summary>The application's secret, made on first use (for a test that registers through the grain itself).</summary>
    public ApplicationSecret Of(string appId)
    {
        var secret = _secrets.GetOrAdd(appId, _ => ApplicationSecret.Create());
        _direct[appId] = true;
        Learned?.Invoke(appId, secret);
        return secret;
    }

    /// <summary>The test calls the grain of an application a GridClient registered directly too: put its token on those calls.</summary>
    public void Trust(string appId) => _direct[appId] = true;

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        bool shuffleGrain = context.InterfaceMethod.DeclaringType == typeof(IShuffleGrain);
        string appId = shuffleGrain ? context.TargetId.Key.ToString()! : "";
        if (shuffleGrain && context.InterfaceMethod.Name == nameof(IShuffleGrain.RegisterApplication)
            && context.Request.GetArgument(0) is ApplicationSecret registered && !_secrets.TryGetValue(appId, out _))
        {
            _secrets[appId] = registered;
            Learned?.Invoke(appId, registered);
        }
        bool attached = false;
        if (shuffleGrain && _direct.ContainsKey(appId) && RequestContext.Get(GridAuthentication.ControlTokenKey) is null && _secrets.TryGetValue(appId, out var secret))
        {
            RequestContext.Set(GridAuthentication.ControlTokenKey, GridAuthentication.ControlToken(secret, appId, DateTimeOffset.UtcNow));
            attached = true;
        }
        try
        {
            await context.Invoke();
        }
        finally
        {
            if (attached) RequestContext.Remove(GridAuthentication.ControlTokenKey);
        }
    }
}
