namespace Orleans.Shuffle.Membership;

/// <summary>
/// Orleans' membership table contract (IMembershipTable), method for method. Every implementation
/// must pass the same conformance tests. Insert and update are conditional: they return false, not
/// throw, when the caller lost a race (the row or the version row changed since it read them).
/// </summary>
public interface IMembershipTable
{
    /// <summary>Creates the table if needed and, when <paramref name="tryInitTableVersion"/>, the version row.</summary>
    Task InitializeMembershipTable(bool tryInitTableVersion);

    /// <summary>Deletes every row of this cluster id (tests and tear-down).</summary>
    Task DeleteMembershipTableEntries(string clusterId);

    /// <summary>Deletes rows that are not Active and whose IAmAlive is older than <paramref name="beforeDate"/>.</summary>
    Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate);

    Task<MembershipTableData> ReadRow(SiloAddress key);

    Task<MembershipTableData> ReadAll();

    /// <summary>Inserts a new row if no row has its key and the version row still has <paramref name="tableVersion"/>'s etag; writes the new version too.</summary>
    Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion);

    /// <summary>Replaces a row if its etag is still <paramref name="etag"/> and the version row's etag still matches; writes the new version too.</summary>
    Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion);

    /// <summary>Writes only the IAmAlive column, unconditionally.</summary>
    Task UpdateIAmAlive(MembershipEntry entry);
}
