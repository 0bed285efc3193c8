namespace Orleans.Shuffle.Model;

/// <summary>
/// A storage silo as a partition location names it: its Orleans identity (the parsable
/// <c>SiloAddress</c>, with generation), its name for people, and its data endpoint, where pushes
/// and fetches go.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SiloEndpoint(string Identity, string Name, string Host, int Port)
{
    /// <summary>"host:port" of the data endpoint.</summary>
    public string Endpoint => $"{Host}:{Port}";

    public override string ToString() => $"{Name} ({Endpoint})";
}
