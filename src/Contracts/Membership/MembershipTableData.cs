namespace Orleans.Shuffle.Membership;

/// <summary>The table's version row: a counter every membership change increments, and its etag.</summary>
public readonly record struct TableVersion(int Version, string VersionEtag)
{
    public TableVersion Next() => new(Version + 1, VersionEtag);
}

/// <summary>A row and the etag it had when read; updates must present it.</summary>
public sealed record MembershipRow(MembershipEntry Entry, string Etag);

/// <summary>A consistent read of the table: rows and the version row, read together.</summary>
public sealed record MembershipTableData(IReadOnlyList<MembershipRow> Members, TableVersion Version)
{
    public MembershipRow? Find(SiloAddress address) => Members.FirstOrDefault(m => m.Entry.SiloAddress == address);
}
