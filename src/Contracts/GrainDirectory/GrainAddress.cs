namespace Orleans.Shuffle.GrainDirectory;

/// <summary>Where a grain's single activation lives: the grain id and the silo (identity, with generation) that hosts it.</summary>
public sealed record GrainAddress(string GrainId, string SiloIdentity);
