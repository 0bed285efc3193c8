namespace Orleans.Shuffle.Membership;

/// <summary>
/// A silo incarnation: endpoint plus generation (its start time), as in Orleans. A restarted silo
/// on the same endpoint has a newer generation and is a different silo.
/// </summary>
public sealed record SiloAddress(string Host, int Port, long Generation)
{
    /// <summary>The row key, as Orleans' DynamoDB table spells it: "{ip}-{port}-{generation}".</summary>
    public string Identity => $"{Host}-{Port}-{Generation}";

    public string Endpoint => $"{Host}:{Port}";

    public bool IsSameEndpoint(SiloAddress other) => Host == other.Host && Port == other.Port;

    public override string ToString() => $"S{Host}:{Port}:{Generation}";

    /// <summary>A generation for a silo starting now: seconds since 2022-01-01, like Orleans' SiloAddress.AllocateNewGeneration.</summary>
    public static long NewGeneration(TimeProvider time) =>
        (long)(time.GetUtcNow() - new DateTimeOffset(2022, 1, 1, 0, 0, 0, TimeSpan.Zero)).TotalMilliseconds;
}
