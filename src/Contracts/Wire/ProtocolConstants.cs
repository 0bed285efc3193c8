namespace Orleans.Shuffle.Wire;

public static class ProtocolConstants
{
    /// <summary>"OSHG" little-endian: the first field of every Hello.</summary>
    public const uint Magic = 0x4748534F;

    /// <summary>The protocol version this build speaks. A peer with another version is refused in the handshake.</summary>
    public const ushort Version = 4;

    /// <summary>Default upper bound on a frame body; larger frames close the connection.</summary>
    public const int DefaultMaxFrameBodyBytes = 32 * 1024 * 1024;

    /// <summary>Upper bound on one batch payload: a chunk holds at least one whole batch, so this bounds fetch replies.</summary>
    public const int MaxBatchPayloadBytes = 16 * 1024 * 1024;

    /// <summary>Strings on the wire are length-prefixed with a u16, and no field needs more than this.</summary>
    public const int MaxStringBytes = 4096;
}
