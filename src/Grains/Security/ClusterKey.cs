using Microsoft.Extensions.Options;
using Orleans.Shuffle.Security;

namespace Orleans.Shuffle.Grains.Security;

/// <summary>
/// This silo's hold on the cluster secret: the member tokens its grains put on calls only silos may
/// make, and the checks of those tokens and of applications' control tokens on incoming calls.
/// Orleans itself does not say who sent a call (a client may name any grain as its sender), so the
/// checks rest on the tokens alone.
/// </summary>
public sealed class ClusterKey
{
    private readonly byte[] _secret;
    private readonly TimeProvider _time;

    /// <param name="time">The wall clock tokens are dated by (not the grid clock, which tests move to expire applications).</param>
    public ClusterKey(IOptions<GridSecurityOptions> options, TimeProvider time)
    {
        var security = options.Value;
        RequireAuthentication = security.RequireAuthentication;
        _time = time;
        if (!RequireAuthentication)
        {
            _secret = [];
            return;
        }
        if (string.IsNullOrEmpty(security.ClusterSecret))
            throw new InvalidOperationException("Security:ClusterSecret is not set: the silo cannot prove itself to other silos (or set Security:RequireAuthentication=false).");
        _secret = GridSecurityOptions.Decode(security.ClusterSecret, "Security:ClusterSecret");
    }

    /// <summary>False when Security:RequireAuthentication is off: nothing is checked.</summary>
    public bool RequireAuthentication { get; }

    /// <summary>The secret, for this silo's data connections to other silos.</summary>
    public ReadOnlySpan<byte> Secret => _secret;

    /// <summary>
    /// Puts a member token on the grain calls made in the current async flow until disposed (the
    /// request context flows into the calls; removing it afterwards keeps it from flowing further).
    /// </summary>
    public MemberScope AttachMemberToken()
    {
        if (!RequireAuthentication) return default;
        RequestContext.Set(GridAuthentication.MemberTokenKey, GridAuthentication.MemberToken(_secret, _time.GetUtcNow()));
        return new MemberScope(true);
    }

    /// <summary>Null when the incoming call carries a valid member token, else why not (always null with authentication off).</summary>
    public string? CheckMember() =>
        RequireAuthentication ? GridAuthentication.CheckMemberToken(_secret, RequestContext.Get(GridAuthentication.MemberTokenKey) as string, _time.GetUtcNow()) : null;

    /// <summary>As <see cref="CheckMember()"/>, for a request context Orleans hands over (a placement target's).</summary>
    public string? CheckMember(Dictionary<string, object>? context) =>
        RequireAuthentication
            ? GridAuthentication.CheckMemberToken(_secret, context is not null && context.TryGetValue(GridAuthentication.MemberTokenKey, out var token) ? token as string : null, _time.GetUtcNow())
            : null;

    /// <summary>Null when the incoming call carries a valid control token of <paramref name="appId"/>, else why not.</summary>
    public string? CheckApplication(ApplicationSecret secret, string appId) =>
        RequireAuthentication ? GridAuthentication.CheckControlToken(secret, appId, RequestContext.Get(GridAuthentication.ControlTokenKey) as string, _time.GetUtcNow()) : null;

    /// <summary>Takes both tokens off the current request context, so they do not flow on into the calls a grain makes.</summary>
    public static void ClearTokens()
    {
        RequestContext.Remove(GridAuthentication.ControlTokenKey);
        RequestContext.Remove(GridAuthentication.MemberTokenKey);
    }

    /// <summary>Removes the member token when disposed.</summary>
    public readonly struct MemberScope(bool attached) : IDisposable
    {
        public void Dispose()
        {
            if (attached) RequestContext.Remove(GridAuthentication.MemberTokenKey);
        }
    }
}
