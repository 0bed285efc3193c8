using System.Text;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>Settings of a <see cref="GridClient"/>, which validates and copies them.</summary>
public sealed class GridClientOptions
{
    /// <summary>Upper bound on <see cref="MaxPushesInFlightPerSilo"/>: more would only buffer more memory per writer.</summary>
    internal const int MaxPushesInFlightLimit = 1024;

    /// <summary>Upper bound on <see cref="FetchChunksInFlight"/>.</summary>
    internal const int MaxFetchChunksInFlight = 64;

    /// <summary>Upper bound on <see cref="PushRetries"/>.</summary>
    internal const int MaxPushRetries = 100;

    /// <summary>
    /// Upper bound on <see cref="MergedPushBytes"/>. A merged push holds at most this many bytes, or a
    /// single batch (at most <see cref="ProtocolConstants.MaxBatchPayloadBytes"/> plus headers), so every
    /// push stays well under the frame limit.
    /// </summary>
    internal const int MaxMergedPushBytes = ProtocolConstants.MaxBatchPayloadBytes;

    /// <summary>Upper bound on <see cref="MaxRevivesPerPartition"/>.</summary>
    internal const int MaxRevivesLimit = 64;

    /// <summary>Upper bound on <see cref="ReviveBatchWindow"/>: a longer window only stalls resends.</summary>
    internal static readonly TimeSpan MaxReviveBatchWindow = TimeSpan.FromSeconds(5);

    /// <summary>Upper bound on every timeout and interval: timers take at most about 24 days, and nothing here needs more than one.</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(1);

    /// <summary>Name sent in every data-plane Hello, shown in silo logs.</summary>
    public string ClientName { get; set; } = "client";

    /// <summary>Per-partition buffer of a writer, headers included; a full buffer becomes one batch.</summary>
    public int PushBufferBytes { get; set; } = 64 * 1024;

    /// <summary>Batches bound for one silo are coalesced into one PushData up to this size.</summary>
    public int MergedPushBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How writers store each batch: LZ4 by default, as Spark and Celeborn do; Zstd trades CPU for a
    /// better ratio; None sends the framed records as they are. A batch that would not shrink by
    /// 1/16 is sent uncompressed whatever this says, and data that keeps not shrinking is mostly
    /// not even tried. Readers need no setting: each batch names its codec.
    /// </summary>
    public BatchCodec Compression { get; set; } = BatchCodec.Lz4;

    /// <summary>Zstandard level when <see cref="Compression"/> is Zstd: 1 (fastest, Celeborn's default) to 19.</summary>
    public int ZstdLevel { get; set; } = 1;

    /// <summary>Bounded: a slow silo slows the writer, memory does not grow.</summary>
    public int MaxPushesInFlightPerSilo { get; set; } = 16;

    /// <summary>Chunks a reader fetches ahead of the one it is reading.</summary>
    public int FetchChunksInFlight { get; set; } = 3;

    /// <summary>
    /// Retries of a push to the same silo on ChecksumMismatch (bytes broken in transit), with the
    /// same batch ids. A lost connection is retried once there (if this is not 0); every other silo
    /// failure revives the partitions elsewhere instead (see <see cref="MaxRevivesPerPartition"/>).
    /// </summary>
    public int PushRetries { get; set; } = 3;

    /// <summary>
    /// A writer collects the partitions that need a new epoch (failed pushes, split notices) for
    /// this long and asks the ShuffleGrain for all of them in one Revive. Zero sends at once.
    /// </summary>
    public TimeSpan ReviveBatchWindow { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How many times one writer moves one partition to a new epoch because pushes to it failed,
    /// before the writer gives up and fails. Splits do not count.
    /// </summary>
    public int MaxRevivesPerPartition { get; set; } = 8;

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a push or a chunk fetch waits for its reply, and a frame for the silo to read it,
    /// before it fails with Timeout: a push is then revived elsewhere, a fetch read from the other
    /// copy. A silo that stops answering (a hung process, a long pause, a stuck disk) costs this long,
    /// not minutes. A healthy silo answers a 64 KiB push in milliseconds and an 8 MiB chunk in well
    /// under a second. Default 10 s (Celeborn's push timeout is 120 s).
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a reader's request for the file group waits for the shuffle to commit (one grain call that completes at commit). Zero asks once.</summary>
    public TimeSpan CommitWaitTimeout { get; set; } = TimeSpan.FromSeconds(300);

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a ShuffleGrain call (register, revive, MapperEnd, file group, ...) is repeated while it
    /// fails because the grain's silo is lost: until Orleans' membership declares the silo dead and the
    /// next call activates the grain on another silo. Every ShuffleGrain call is idempotent. Zero
    /// still makes a few quick tries.
    /// </summary>
    public TimeSpan ShuffleGrainFailoverTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long one try of a revive or a map end waits before it is made again (both are idempotent
    /// and quick on a healthy grid). Orleans sends a call through one of the client's gateways, and a
    /// call through a hung silo's gateway would wait Orleans' whole 30 s response timeout. A try given
    /// up on goes on in the grain; the next one finds its work done. Default 5 s.
    /// </summary>
    public TimeSpan ControlAttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The grid's certificate (the silos' Security:TlsCertificateFile; its public part is enough): data
    /// connections then speak TLS and trust a silo only when it presents this certificate. The Orleans
    /// client needs it too (<see cref="Hosting.GridTlsClientBuilderExtensions.UseGridTls"/>). Default
    /// none: plain TCP, which a TLS silo refuses.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ClientName))
            throw new ArgumentException("GridClientOptions.ClientName is empty.", nameof(ClientName));
        if (Encoding.UTF8.GetByteCount(ClientName) > ProtocolConstants.MaxStringBytes)
            throw new ArgumentException($"GridClientOptions.ClientName is longer than {ProtocolConstants.MaxStringBytes} UTF-8 bytes.", nameof(ClientName));
        RequireRange(PushBufferBytes, 1, ProtocolConstants.MaxBatchPayloadBytes, nameof(PushBufferBytes));
        RequireRange(MergedPushBytes, 1, MaxMergedPushBytes, nameof(MergedPushBytes));
        if (Compression is not (BatchCodec.None or BatchCodec.Lz4 or BatchCodec.Zstd))
            throw new ArgumentException($"GridClientOptions.Compression must be None, Lz4 or Zstd, but is {(int)Compression}.", nameof(Compression));
        // Levels above 19 are zstd's "ultra" levels, with windows far larger than a batch.
        RequireRange(ZstdLevel, 1, 19, nameof(ZstdLevel));
        RequireRange(MaxPushesInFlightPerSilo, 1, MaxPushesInFlightLimit, nameof(MaxPushesInFlightPerSilo));
        RequireRange(FetchChunksInFlight, 1, MaxFetchChunksInFlight, nameof(FetchChunksInFlight));
        RequireRange(PushRetries, 0, MaxPushRetries, nameof(PushRetries));
        RequireRange(MaxRevivesPerPartition, 0, MaxRevivesLimit, nameof(MaxRevivesPerPartition));
        if (ReviveBatchWindow < TimeSpan.Zero || ReviveBatchWindow > MaxReviveBatchWindow)
            throw new ArgumentException(
                $"GridClientOptions.ReviveBatchWindow must be between 0 and {MaxReviveBatchWindow}, but is {ReviveBatchWindow}.", nameof(ReviveBatchWindow));
        RequirePositive(ConnectTimeout, nameof(ConnectTimeout));
        RequirePositive(RequestTimeout, nameof(RequestTimeout));
        RequirePositive(ControlAttemptTimeout, nameof(ControlAttemptTimeout));
        RequirePositive(HeartbeatInterval, nameof(HeartbeatInterval));
        if (ShuffleGrainFailoverTimeout < TimeSpan.Zero || ShuffleGrainFailoverTimeout > MaxTimeout)
            throw new ArgumentException(
                $"GridClientOptions.ShuffleGrainFailoverTimeout must be between 0 and {MaxTimeout}, but is {ShuffleGrainFailoverTimeout}.", nameof(ShuffleGrainFailoverTimeout));
        if (CommitWaitTimeout < TimeSpan.Zero || CommitWaitTimeout > MaxTimeout)
            throw new ArgumentException($"GridClientOptions.CommitWaitTimeout must be between 0 and {MaxTimeout}, but is {CommitWaitTimeout}.", nameof(CommitWaitTimeout));
    }

    /// <summary>A copy, so changes the caller makes after connecting do not reach a running client.</summary>
    internal GridClientOptions Clone() => new()
    {
        ClientName = ClientName,
        PushBufferBytes = PushBufferBytes,
        MergedPushBytes = MergedPushBytes,
        Compression = Compression,
        ZstdLevel = ZstdLevel,
        MaxPushesInFlightPerSilo = MaxPushesInFlightPerSilo,
        FetchChunksInFlight = FetchChunksInFlight,
        PushRetries = PushRetries,
        ReviveBatchWindow = ReviveBatchWindow,
        MaxRevivesPerPartition = MaxRevivesPerPartition,
        ConnectTimeout = ConnectTimeout,
        RequestTimeout = RequestTimeout,
        CommitWaitTimeout = CommitWaitTimeout,
        HeartbeatInterval = HeartbeatInterval,
        ShuffleGrainFailoverTimeout = ShuffleGrainFailoverTimeout,
        ControlAttemptTimeout = ControlAttemptTimeout,
        TlsCertificate = TlsCertificate,
    };

    internal GridConnectionOptions ToConnectionOptions() => new()
    {
        PeerName = ClientName,
        ConnectTimeout = ConnectTimeout,
        RequestTimeout = RequestTimeout,
        Tls = TlsCertificate is null ? null : new GridTlsOptions { TrustedCertificate = TlsCertificate },
    };

    private static void RequireRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
            throw new ArgumentException($"GridClientOptions.{name} must be between {min} and {max}, but is {value}.", name);
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value > MaxTimeout)
            throw new ArgumentException($"GridClientOptions.{name} must be greater than 0 and at most {MaxTimeout}, but is {value}.", name);
    }
}
