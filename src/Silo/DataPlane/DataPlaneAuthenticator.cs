using System.Security.Cryptography;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Security;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Security;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// Who a data connection acts for (docs/protocol.md, "Authentication"). Each connection gets a
/// random challenge in its HelloOk; an Authenticate proves an application's data-plane key (which
/// its ShuffleGrain handed this silo with each copy it reserved here) or the cluster secret over
/// that challenge and this silo's identity. Every push and fetch is then checked against the
/// application it names before it touches a partition: a connection that proved application A
/// can neither write nor read B's copies, and only a member silo may replicate.
/// </summary>
public sealed class DataPlaneAuthenticator(ClusterKey clusterKey, PartitionCatalog partitions)
{
    /// <summary>False when Security:RequireAuthentication is off: no challenge, nothing checked.</summary>
    public bool Required => clusterKey.RequireAuthentication;

    /// <summary>A new connection's challenge; empty when nothing is checked.</summary>
    public byte[] NewChallenge() => Required ? RandomNumberGenerator.GetBytes(GridAuthentication.ChallengeBytes) : [];

    /// <summary>Checks an Authenticate and records its principal on the session; Unauthorized if the proof is wrong.</summary>
    internal void Authenticate(GridSession session, Authenticate request, string siloIdentity)
    {
        if (!Required) return;
        if (request.Kind == PrincipalKind.Silo)
        {
            var expected = GridAuthentication.DataPlaneProof(clusterKey.Secret, session.Challenge, siloIdentity, PrincipalKind.Silo, request.Name);
            if (!GridAuthentication.ProofMatches(expected, request.Proof))
                throw new GridException(GridErrorCode.Unauthorized, $"The proof of silo '{request.Name}' does not match this cluster's secret.");
            session.IsMember = true;
            return;
        }
        Ids.IdValidator.ValidateAppId(request.Name);
        var keys = partitions.ApplicationKeys(request.Name);
        // Not a refusal: the copies may have gone (swept, or this silo restarted); a writer revives on UnknownPartition.
        if (keys.Count == 0)
            throw new GridException(GridErrorCode.UnknownPartition, $"Application {request.Name} has no partition copy on this silo.");
        foreach (var key in keys)
        {
            var proof = GridAuthentication.DataPlaneProof(key, session.Challenge, siloIdentity, PrincipalKind.Application, request.Name);
            if (!GridAuthentication.ProofMatches(proof, request.Proof)) continue;
            session.AuthorizeApplication(request.Name, key);
            return;
        }
        throw new GridException(GridErrorCode.Unauthorized, $"The proof for application {request.Name} does not match its secret.");
    }

    /// <summary>
    /// Throws Unauthorized unless the connection may push (or replicate, or fetch) data of
    /// <paramref name="appId"/>: a member silo may do all three, an application its own pushes and
    /// fetches. Returns the key the connection proved for the application, which every copy it
    /// touches must hold (<see cref="AuthorizeCopy"/>); null when no copy check is needed.
    /// </summary>
    internal byte[]? Authorize(GridSession session, string appId, MessageType type)
    {
        if (!Required || session.IsMember) return null;
        if (type == MessageType.ReplicateData)
            throw new GridException(GridErrorCode.Unauthorized, "ReplicateData is for member silos only: this connection has not proved the cluster secret.");
        return session.ProvedKey(appId) ?? throw new GridException(GridErrorCode.Unauthorized,
            $"This connection has not proved application {appId} (Authenticate with its key first); {type} refused, nothing stored or read.");
    }

    /// <summary>Unauthorized unless <paramref name="copy"/> was reserved with <paramref name="provedKey"/> (null: nothing to check).</summary>
    internal static void AuthorizeCopy(byte[]? provedKey, HostedPartition copy)
    {
        if (provedKey is null) return;
        if (copy.ApplicationKey is not { } key || !GridAuthentication.ProofMatches(key, provedKey))
            throw new GridException(GridErrorCode.Unauthorized,
                $"Partition copy {copy.Key} belongs to another registration of application {copy.Key.AppId}; refused, nothing stored or read.");
    }
}
