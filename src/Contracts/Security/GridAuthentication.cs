using System.Security.Cryptography;
using System.Text;

namespace Orleans.Shuffle.Security;

/// <summary>
/// The grid's proofs, all HMAC-SHA256 with a purpose label, so a value made for one use is worth
/// nothing in another (docs/protocol.md, "Authentication"):
/// <list type="bullet">
/// <item>a control token proves an application's secret on a grain call: the time and an HMAC over
/// the application id and that time, valid for <see cref="ControlTokenLifetime"/>;</item>
/// <item>an application's data-plane key is derived from its secret, so silos that host its
/// partitions hold that key and never the secret that also authorizes control calls;</item>
/// <item>a data-plane proof is an HMAC over the silo's per-connection challenge, the silo's identity,
/// the principal's kind and name, with the application's data-plane key or the cluster secret.</item>
/// </list>
/// </summary>
public static class GridAuthentication
{
    /// <summary>How far a control token's time may be from the silo's clock, either way.</summary>
    public static readonly TimeSpan ControlTokenLifetime = TimeSpan.FromMinutes(5);

    /// <summary>The request-context key that carries an application's control token on a grain call.</summary>
    public const string ControlTokenKey = "oshuffle-auth";

    /// <summary>The request-context key that carries a member token on a grain call.</summary>
    public const string MemberTokenKey = "oshuffle-member";

    /// <summary>Bytes of a silo's per-connection challenge.</summary>
    public const int ChallengeBytes = 32;

    /// <summary>Bytes of every proof and key (SHA-256).</summary>
    public const int ProofBytes = 32;

    /// <summary>Shortest cluster secret accepted: 256 bits.</summary>
    public const int MinClusterSecretBytes = 32;

    private static readonly byte[] DataKeyLabel = "orleans-shuffle data-plane key v1"u8.ToArray();

    /// <summary>A control token of an application: proves its secret on a grain call to its ShuffleGrain.</summary>
    public static string ControlToken(ApplicationSecret secret, string appId, DateTimeOffset now) =>
        Token(secret.Value, "app " + appId, now);

    /// <summary>Null when <paramref name="token"/> proves <paramref name="secret"/> for <paramref name="appId"/> at <paramref name="now"/>; else why not.</summary>
    public static string? CheckControlToken(ApplicationSecret secret, string appId, string? token, DateTimeOffset now) =>
        CheckToken(secret.Value, "app " + appId, token, now, "of the application");

    /// <summary>A member token: proves the cluster secret on a grain call only silos may make (to a PartitionGrain, a ShuffleGrain's commit).</summary>
    public static string MemberToken(ReadOnlySpan<byte> clusterSecret, DateTimeOffset now) => Token(clusterSecret, "member", now);

    /// <summary>Null when <paramref name="token"/> proves the cluster secret at <paramref name="now"/>; else why not.</summary>
    public static string? CheckMemberToken(ReadOnlySpan<byte> clusterSecret, string? token, DateTimeOffset now) =>
        CheckToken(clusterSecret, "member", token, now, "of a member silo");

    // "v1.{unix seconds}.{base64 HMAC(key, "control v1\n" + scope + "\n" + seconds)}".
    private static string Token(ReadOnlySpan<byte> key, string scope, DateTimeOffset now)
    {
        long seconds = now.ToUnixTimeSeconds();
        return $"v1.{seconds}.{Convert.ToBase64String(ControlMac(key, scope, seconds))}";
    }

    private static string? CheckToken(ReadOnlySpan<byte> key, string scope, string? token, DateTimeOffset now, string whose)
    {
        if (string.IsNullOrEmpty(token)) return $"the call carries no credential {whose}";
        string[] parts = token.Split('.');
        if (parts.Length != 3 || parts[0] != "v1" || !long.TryParse(parts[1], out long seconds)) return "the credential is malformed";
        byte[] mac;
        try
        {
            mac = Convert.FromBase64String(parts[2]);
        }
        catch (FormatException)
        {
            return "the credential is malformed";
        }
        if (!ProofMatches(ControlMac(key, scope, seconds), mac)) return $"the credential does not prove the secret {whose}";
        var age = now - DateTimeOffset.FromUnixTimeSeconds(seconds);
        if (age.Duration() > ControlTokenLifetime) return $"the credential is {age.TotalSeconds:0} s old (the clocks differ, or it was replayed)";
        return null;
    }

    /// <summary>The application's key for data connections: HMAC(secret, label).</summary>
    public static byte[] DataPlaneKey(ApplicationSecret secret) => HMACSHA256.HashData(secret.Value, DataKeyLabel);

    /// <summary>HMAC(key, "data v1\n" + challenge + "\n" + siloIdentity + "\n" + kind + "\n" + name).</summary>
    public static byte[] DataPlaneProof(ReadOnlySpan<byte> key, ReadOnlySpan<byte> challenge, string siloIdentity, PrincipalKind kind, string name)
    {
        var message = new List<byte>(64 + challenge.Length + siloIdentity.Length + name.Length);
        message.AddRange("data v1\n"u8);
        message.AddRange(challenge);
        message.Add((byte)'\n');
        message.AddRange(Encoding.UTF8.GetBytes(siloIdentity));
        message.Add((byte)'\n');
        message.Add((byte)kind);
        message.Add((byte)'\n');
        message.AddRange(Encoding.UTF8.GetBytes(name));
        return HMACSHA256.HashData(key, message.ToArray());
    }

    /// <summary>Constant-time comparison of a proof with the one expected.</summary>
    public static bool ProofMatches(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual) =>
        actual.Length == expected.Length && CryptographicOperations.FixedTimeEquals(expected, actual);

    private static byte[] ControlMac(ReadOnlySpan<byte> key, string scope, long seconds) =>
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"control v1\n{scope}\n{seconds}"));
}
