namespace Orleans.Shuffle.Wire;

/// <summary>Error codes carried by error responses. Numbers are stable; see docs/protocol.md.</summary>
public enum GridErrorCode : ushort
{
    None = 0,
    VersionMismatch = 1,
    HandshakeRequired = 2,
    MalformedFrame = 3,
    FrameTooLarge = 4,
    UnknownMessageType = 5,
    InvalidId = 6,
    InvalidArgument = 7,
    UnknownApplication = 8,
    UnknownShuffle = 9,
    UnknownPartition = 10,
    ChecksumMismatch = 11,
    ShuffleMismatch = 12,
    NotCommitted = 13,
    PartitionCommitted = 14,
    NoSlots = 15,
    SiloUnavailable = 16,
    ShuttingDown = 17,
    MapEnded = 18,
    DataLost = 19,
    Timeout = 20,
    ConnectionLost = 21,
    StorageFailure = 22,
    Internal = 23,
    ReplicationFailed = 24,
    QuotaExceeded = 25,
    Unauthorized = 26,
}
