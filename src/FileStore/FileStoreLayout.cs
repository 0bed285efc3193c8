using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Shuffle.FileStore;

/// <summary>
/// The files of the embedded providers in one cluster's directory, shared by the silos of a machine
/// (by default <c>$TMPDIR/orleans-shuffle/&lt;cluster-id&gt;/</c>):
/// <code>
/// membership.json (+ .lock)        FileMembershipTable: every cluster id's rows and table version
/// reminders.json (+ .lock)         FileReminderTable: every service id's reminders
/// grain-state/&lt;sha-256&gt;.json      FileGrainStorage: one file per (storage name, service id, grain id, state name)
/// grain-state/locks/&lt;xx&gt;.lock      the 256 lock files the grain states share, by the first two hex digits of the name
/// </code>
/// Names that reach the file system are hashed or checked here, never used as paths.
/// </summary>
public static partial class FileStoreLayout
{
    public const string MembershipFile = "membership.json";
    public const string RemindersFile = "reminders.json";
    public const string GrainStateDirectory = "grain-state";
    public const string GrainStateLockDirectory = "locks";

    /// <summary>The folder under the system temp directory that holds one directory per cluster id.</summary>
    public const string TempFolder = "orleans-shuffle";

    /// <summary>
    /// The default directory of a cluster: <c>$TMPDIR/orleans-shuffle/&lt;cluster-id&gt;</c>, the cluster
    /// id itself when it is a plain name (letters, digits, '.', '_', '-', not only dots), else its hash.
    /// </summary>
    public static string DefaultDirectory(string clusterId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        string name = PlainName().IsMatch(clusterId) && clusterId.Trim('.').Length > 0 ? clusterId : "cluster-" + Hash(clusterId)[..32];
        return Path.Combine(Path.GetTempPath(), TempFolder, name);
    }

    /// <summary>
    /// A file name for <paramref name="parts"/>: the lowercase hex SHA-256 of their UTF-8 bytes, each
    /// length-prefixed so that no two lists of parts give the same name. Safe whatever the parts hold.
    /// </summary>
    public static string Hash(params string[] parts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (string part in parts)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(part);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex PlainName();
}
