using System.Net;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>The silo's data endpoint, where pushes, replication and fetches go (section "DataEndpoint").</summary>
public sealed class DataEndpointOptions
{
    public const string SectionName = "DataEndpoint";

    /// <summary>Address the endpoint binds. Default 127.0.0.1; set by the silo from Silo:ListenAddress.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Address partition locations give for this endpoint. Default: the listen address; set by the silo from Silo:AdvertisedHost.</summary>
    public string AdvertisedHost { get; set; } = "";

    /// <summary>Port of the endpoint. Default 11200; 0 picks a free port (tests).</summary>
    public int Port { get; set; } = 11200;

    /// <summary>Largest frame body accepted; a larger frame gets FrameTooLarge and the connection is closed. Default 32 MiB.</summary>
    public int MaxFrameBodyBytes { get; set; } = ProtocolConstants.DefaultMaxFrameBodyBytes;

    /// <summary>
    /// Bytes a connection may hold unread in its receive pipe before the socket stops reading. A frame
    /// that fits is parsed where it lies; a larger one (up to <see cref="MaxFrameBodyBytes"/>) is copied
    /// out into pooled 256 KiB pieces as it arrives. It bounds what a connection holds while the silo's
    /// memory budget pauses its reads, so memory follows configuration, not the data. Default 1 MiB,
    /// sixteen of the client's default 64 KiB merged pushes.
    /// </summary>
    public int ReceiveBufferBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Size of the pinned blocks the endpoint's sockets receive into and replies are written from. The
    /// transport receives at most one block per system call, so larger blocks mean fewer calls per byte.
    /// Default 64 KiB (Kestrel's own are 4 KiB); 4 KiB..ReceiveBufferBytes.
    /// </summary>
    public int BlockBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Bytes of returned blocks the endpoint keeps for reuse, for all connections together; blocks
    /// returned beyond that are freed. Default 32 MiB.
    /// </summary>
    public long MaxKeptBlockBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>
    /// Bytes of frame bodies larger than <see cref="ReceiveBufferBytes"/> the silo holds at once, all
    /// connections together. A connection reserves such a body's whole length before reading it;
    /// one that gets no budget within <see cref="FrameReadTimeout"/> is refused (Timeout) and
    /// closed. Default 64 MiB, two bodies of the largest size; at least <see cref="MaxFrameBodyBytes"/>.
    /// </summary>
    public long MaxLargeFrameBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Connections the endpoint serves at once; Kestrel closes the ones beyond at once. With
    /// <see cref="ReceiveBufferBytes"/> and <see cref="MaxLargeFrameBytes"/> it bounds what the
    /// connections can hold: at defaults 4,096 x 1 MiB + 64 MiB, reached only if every connection
    /// holds a partial frame. A job needs about one connection per executor and silo. Default 4,096.
    /// </summary>
    public int MaxConnections { get; set; } = 4096;

    /// <summary>
    /// A frame whose first bytes arrived must arrive whole (and a large one get its budget) within
    /// this, or the connection is closed: a peer that drips a frame cannot hold its buffer. Time the
    /// silo spends handling earlier frames does not count. Default 30 s (a 32 MiB frame at 1.1 MB/s).
    /// </summary>
    public TimeSpan FrameReadTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A connection past its Hello that sends nothing for this long, with no request in flight, is
    /// closed; the client's pool reconnects on its next request. Default 5 min.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A connection that has not completed its Hello by then is closed. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a primary waits for its replica to take forwarded batches before the push fails with
    /// ReplicationFailed (and the writer revives the partition). Shorter than the client's request
    /// timeout (10 s), so a hung replica is reported as such before the writer gives up on the primary.
    /// Default 5 s.
    /// </summary>
    public TimeSpan ReplicaRequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public string EffectiveHost => string.IsNullOrEmpty(AdvertisedHost) ? ListenAddress : AdvertisedHost;

    public IEnumerable<string> Validate()
    {
        if (!IPAddress.TryParse(ListenAddress, out _)) yield return $"{SectionName}:ListenAddress '{ListenAddress}' is not an IP address.";
        if (Port is < 0 or > 65535) yield return $"{SectionName}:Port {Port} is not a port (0-65535).";
        if (MaxFrameBodyBytes is < 64 * 1024 or > 256 * 1024 * 1024) yield return $"{SectionName}:MaxFrameBodyBytes must be 64 KiB..256 MiB.";
        if (ReceiveBufferBytes < 64 * 1024 || ReceiveBufferBytes > MaxFrameBodyBytes) yield return $"{SectionName}:ReceiveBufferBytes must be 64 KiB..MaxFrameBodyBytes.";
        if (BlockBytes < 4096 || BlockBytes > ReceiveBufferBytes) yield return $"{SectionName}:BlockBytes must be 4 KiB..ReceiveBufferBytes.";
        if (MaxKeptBlockBytes < 0) yield return $"{SectionName}:MaxKeptBlockBytes must not be negative.";
        if (MaxLargeFrameBytes < MaxFrameBodyBytes) yield return $"{SectionName}:MaxLargeFrameBytes must hold one frame body of MaxFrameBodyBytes ({MaxFrameBodyBytes}).";
        if (MaxConnections < 1) yield return $"{SectionName}:MaxConnections must be at least 1.";
        if (FrameReadTimeout <= TimeSpan.Zero) yield return $"{SectionName}:FrameReadTimeout must be positive.";
        if (IdleTimeout <= TimeSpan.Zero) yield return $"{SectionName}:IdleTimeout must be positive.";
        if (HandshakeTimeout <= TimeSpan.Zero) yield return $"{SectionName}:HandshakeTimeout must be positive.";
        if (ReplicaRequestTimeout <= TimeSpan.Zero) yield return $"{SectionName}:ReplicaRequestTimeout must be positive.";
    }
}
