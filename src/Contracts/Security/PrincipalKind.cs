namespace Orleans.Shuffle.Security;

/// <summary>Who a data connection says it acts for (docs/protocol.md, "Authentication").</summary>
public enum PrincipalKind : byte
{
    /// <summary>The driver or an executor of one application: pushes and fetches of that application only.</summary>
    Application = 1,

    /// <summary>A member silo of the cluster (the cluster secret): replication, and anything an application may do.</summary>
    Silo = 2,
}
