using System.Globalization;
using System.Net;
using Amazon.DynamoDBv2.Model;
using Orleans.Runtime;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Clustering.DynamoDB;

/// <summary>
/// A membership row as an item of Orleans.Clustering.DynamoDB's table (SiloInstanceRecord there):
/// the same attribute names, types and formats, so the official provider and this one read each
/// other's rows. Like the official provider, it keeps no RoleName, UpdateZone or FaultZone.
/// </summary>
internal static class SiloInstanceItem
{
    public const string DeploymentId = "DeploymentId";
    public const string SiloIdentity = "SiloIdentity";
    public const string ETag = "ETag";
    public const string Address = "Address";
    public const string Port = "Port";
    public const string Generation = "Generation";
    public const string HostName = "HostName";
    public const string Status = "SiloStatus";
    public const string ProxyPort = "ProxyPort";
    public const string SiloName = "SiloName";
    public const string SuspectingSilos = "SuspectingSilos";
    public const string SuspectingTimes = "SuspectingTimes";
    public const string StartTime = "StartTime";
    public const string IAmAliveTime = "IAmAliveTime";
    public const string MembershipVersion = "MembershipVersion";

    /// <summary>Range key of the version row.</summary>
    public const string VersionRow = "VersionRow";

    /// <summary>Separates the entries of SuspectingSilos and of SuspectingTimes.</summary>
    private const char ListSeparator = '|';

    /// <summary>"{ip}-{port}-{generation}", the range key of a silo's row.</summary>
    public static string Identity(SiloAddress silo) =>
        string.Create(CultureInfo.InvariantCulture, $"{silo.Endpoint.Address}-{silo.Endpoint.Port}-{silo.Generation}");

    public static Dictionary<string, AttributeValue> Key(string clusterId, string identity) => new()
    {
        [DeploymentId] = new() { S = clusterId },
        [SiloIdentity] = new() { S = identity },
    };

    /// <summary>The whole item of <paramref name="entry"/>, with its row etag and the table version it was written at.</summary>
    public static Dictionary<string, AttributeValue> ToItem(string clusterId, MembershipEntry entry, long etag, int membershipVersion)
    {
        var silo = entry.SiloAddress;
        var item = Key(clusterId, Identity(silo));
        item[Address] = new() { S = silo.Endpoint.Address.ToString() };
        item[Port] = DynamoDBValues.Number(silo.Endpoint.Port);
        item[Generation] = DynamoDBValues.Number(silo.Generation);
        item[Status] = DynamoDBValues.Number((int)entry.Status);
        item[ProxyPort] = DynamoDBValues.Number(entry.ProxyPort);
        item[StartTime] = new() { S = FormatTime(entry.StartTime) };
        item[IAmAliveTime] = new() { S = FormatTime(entry.IAmAliveTime) };
        item[MembershipVersion] = DynamoDBValues.Number(membershipVersion);
        item[ETag] = DynamoDBValues.Number(etag);
        // As Orleans writes them: blank strings are left out, and read back as empty.
        AddIfNotBlank(item, HostName, entry.HostName);
        AddIfNotBlank(item, SiloName, entry.SiloName);
        if (entry.SuspectTimes is { Count: > 0 } votes)
        {
            item[SuspectingSilos] = new() { S = string.Join(ListSeparator, votes.Select(v => v.Item1.ToParsableString())) };
            item[SuspectingTimes] = new() { S = string.Join(ListSeparator, votes.Select(v => FormatTime(v.Item2))) };
        }
        return item;
    }

    /// <summary>The version row's attributes besides its keys, as Orleans writes them (its silo attributes are zero).</summary>
    public static Dictionary<string, AttributeValue> VersionFields(int version, long etag) => new()
    {
        [Port] = DynamoDBValues.Number(0),
        [Generation] = DynamoDBValues.Number(0),
        [Status] = DynamoDBValues.Number(0),
        [ProxyPort] = DynamoDBValues.Number(0),
        [MembershipVersion] = DynamoDBValues.Number(version),
        [ETag] = DynamoDBValues.Number(etag),
    };

    public static bool IsVersionRow(Dictionary<string, AttributeValue> item) =>
        item.TryGetValue(SiloIdentity, out var key) && key.S == VersionRow;

    /// <summary>The entry of a silo's item; throws <see cref="FormatException"/> or <see cref="KeyNotFoundException"/> for a malformed one.</summary>
    public static MembershipEntry ParseEntry(Dictionary<string, AttributeValue> item)
    {
        var entry = new MembershipEntry
        {
            SiloAddress = SiloAddress.New(
                IPAddress.Parse(DynamoDBValues.GetString(item, Address)),
                checked((int)DynamoDBValues.GetLong(item, Port)),
                checked((int)DynamoDBValues.GetLong(item, Generation))),
            Status = (SiloStatus)DynamoDBValues.GetLong(item, Status),
            ProxyPort = checked((int)DynamoDBValues.GetLong(item, ProxyPort, 0)),
            HostName = DynamoDBValues.GetString(item, HostName, ""),
            SiloName = DynamoDBValues.GetString(item, SiloName, ""),
            StartTime = ParseTime(DynamoDBValues.GetString(item, StartTime, "")),
            IAmAliveTime = ParseTime(DynamoDBValues.GetString(item, IAmAliveTime, "")),
        };
        string silos = DynamoDBValues.GetString(item, SuspectingSilos, "");
        string times = DynamoDBValues.GetString(item, SuspectingTimes, "");
        if (silos.Length > 0 || times.Length > 0)
        {
            var voters = silos.Split(ListSeparator);
            var when = times.Split(ListSeparator);
            if (voters.Length != when.Length) throw new FormatException($"{voters.Length} suspecting silos but {when.Length} suspecting times.");
            for (int i = 0; i < voters.Length; i++) entry.AddSuspector(SiloAddress.FromParsableString(voters[i]), ParseTime(when[i]));
        }
        return entry;
    }

    public static long RowEtag(Dictionary<string, AttributeValue> item) => DynamoDBValues.GetLong(item, ETag);

    public static int RowVersion(Dictionary<string, AttributeValue> item) => checked((int)DynamoDBValues.GetLong(item, MembershipVersion, 0));

    /// <summary>Orleans' format, "yyyy-MM-dd HH:mm:ss.fff GMT", of the time in UTC (a local time is converted first).</summary>
    public static string FormatTime(DateTime time) =>
        LogFormatter.PrintDate(time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : time);

    /// <summary>A time in Orleans' format as a UTC time; empty is the default time, as Orleans reads it.</summary>
    public static DateTime ParseTime(string value) =>
        value.Length == 0 ? default : DateTime.SpecifyKind(LogFormatter.ParseDate(value), DateTimeKind.Utc);

    private static void AddIfNotBlank(Dictionary<string, AttributeValue> item, string name, string? value)
    {
        if (!string.IsNullOrWhiteSpace(value)) item[name] = new AttributeValue { S = value };
    }
}
