using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Transport;

/// <summary>Settings of one outbound connection to a silo.</summary>
public sealed class GridConnectionOptions
{
    /// <summary>Name sent in the Hello, shown in silo logs. Default "client".</summary>
    public string PeerName { get; set; } = "client";

    /// <summary>How long to wait for TCP connect and handshake. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for a reply, or for the silo to read a frame, before failing the request with Timeout. Default 10 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest frame body accepted or sent. Default 32 MiB.</summary>
    public int MaxFrameBodyBytes { get; set; } = ProtocolConstants.DefaultMaxFrameBodyBytes;

    /// <summary>
    /// Proved right after the Hello, for the whole connection: a silo's cluster credential on
    /// silo-to-silo connections. Clients prove their applications per request instead
    /// (<see cref="GridConnection.EnsureAuthenticatedAsync"/>). Default none.
    /// </summary>
    public Security.DataPlaneCredential? Credential { get; set; }

    /// <summary>TLS for the connection; null (default) for plain TCP. The silo must agree: a TLS silo closes a plain connection.</summary>
    public GridTlsOptions? Tls { get; set; }

    /// <summary>The clock of the request deadlines (one sweep timer per connection). Default the system clock; tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
