using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Holds the client's latest <see cref="ClusterView"/> and refreshes it from a gateway. The
/// gateway that answered last is asked first; when it is gone the configured gateways are tried
/// in order, then the active silos of the last view, so a client outlives its first gateway.
/// </summary>
internal sealed class ClusterViewProvider(ConnectionPool pool, IReadOnlyList<GatewayEndpoint> gateways)
{
    private ClusterView _current = new(0, []);
    private GatewayEndpoint _preferredGateway = gateways[0];

    public ClusterView Current => Volatile.Read(ref _current);

    /// <summary>The gateway that answered last: where requests go when placement has no answer.</summary>
    public GatewayEndpoint PreferredGateway => _preferredGateway;

    public async Task<ClusterView> RefreshAsync(CancellationToken cancellationToken)
    {
        var candidates = Candidates();
        var errors = new List<string>(candidates.Count);
        foreach (var candidate in candidates)
        {
            try
            {
                var connection = await pool.GetAsync(candidate.Host, candidate.Port, cancellationToken).ConfigureAwait(false);
                using var reply = await connection.SendAsync(MessageType.GetClusterView, new Empty(), cancellationToken).ConfigureAwait(false);
                var view = reply.Read<ClusterView>();
                Volatile.Write(ref _current, view);
                _preferredGateway = candidate;
                return view;
            }
            catch (GridException e)
            {
                // Any answer but a view means "ask someone else"; all of them are reported if nobody answers.
                errors.Add($"{candidate}: {e.Code}: {e.Message}");
            }
        }
        throw new GridException(ErrorCode.SiloUnavailable,
            $"No gateway answered GetClusterView ({candidates.Count} tried): {string.Join("; ", errors)}");
    }

    /// <summary>Preferred gateway, other configured gateways, then active silos of the last view; no endpoint twice.</summary>
    private List<GatewayEndpoint> Candidates()
    {
        var seen = new HashSet<GatewayEndpoint>();
        var list = new List<GatewayEndpoint>();
        void Add(GatewayEndpoint endpoint)
        {
            if (seen.Add(endpoint)) list.Add(endpoint);
        }

        Add(_preferredGateway);
        foreach (var gateway in gateways) Add(gateway);
        foreach (var silo in Current.Active) Add(new GatewayEndpoint(silo.Host, silo.Port));
        return list;
    }
}
