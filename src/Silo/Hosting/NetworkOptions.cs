using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>Limits of the grid protocol endpoint (section "Network").</summary>
public sealed class NetworkOptions
{
    public const string SectionName = "Network";

    /// <summary>Largest frame body accepted; a larger frame gets FrameTooLarge and the connection is closed. Default 32 MiB.</summary>
    public int MaxFrameBodyBytes { get; set; } = ProtocolConstants.DefaultMaxFrameBodyBytes;

    /// <summary>A connection that has not completed its Hello by then is closed. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Timeout of silo-to-silo requests (reserve, commit, stats). Default 60 s.</summary>
    public TimeSpan SiloRequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public IEnumerable<string> Validate()
    {
        if (MaxFrameBodyBytes is < 64 * 1024 or > 256 * 1024 * 1024) yield return "Network:MaxFrameBodyBytes must be 64 KiB..256 MiB.";
        if (HandshakeTimeout <= TimeSpan.Zero) yield return "Network:HandshakeTimeout must be positive.";
        if (SiloRequestTimeout <= TimeSpan.Zero) yield return "Network:SiloRequestTimeout must be positive.";
    }
}
