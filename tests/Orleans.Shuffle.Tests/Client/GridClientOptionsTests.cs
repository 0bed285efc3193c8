using System.Globalization;
using System.Reflection;
using Orleans.Shuffle.Batches;
using Orleans.Shuffle.Client;
using Orleans.Shuffle.Model;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>
/// What <see cref="GridClientOptions.Validate"/> refuses and accepts, and what the client copies. Every
/// refusal is an <see cref="ArgumentException"/> whose parameter and message name the setting.
/// </summary>
public class GridClientOptionsTests
{
    private static readonly PropertyInfo[] Settings =
        typeof(GridClientOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();

    private static GridClientOptions With(string setting, object value)
    {
        var options = new GridClientOptions();
        Setting(setting).SetValue(options, value);
        return options;
    }

    private static PropertyInfo Setting(string name) => Settings.Single(p => p.Name == name);

    private static TimeSpan Span(string value) => TimeSpan.Parse(value, CultureInfo.InvariantCulture);

    private static void AssertRefused(GridClientOptions options, string setting, string shownValue)
    {
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(setting, e.ParamName);
        Assert.Contains($"GridClientOptions.{setting}", e.Message);
        Assert.Contains(shownValue, e.Message);
    }

    [Fact]
    public void The_defaults_are_valid()
    {
        var defaults = new GridClientOptions();
        defaults.Validate();
        Assert.Equal((TimeSpan.FromMilliseconds(50), 8), (defaults.ReviveBatchWindow, defaults.MaxRevivesPerPartition));
    }

    [Theory]
    [InlineData(nameof(GridClientOptions.PushBufferBytes), 0)]
    [InlineData(nameof(GridClientOptions.PushBufferBytes), -1)]
    [InlineData(nameof(GridClientOptions.PushBufferBytes), ProtocolConstants.MaxBatchPayloadBytes + 1)]
    [InlineData(nameof(GridClientOptions.MergedPushBytes), 0)]
    [InlineData(nameof(GridClientOptions.MergedPushBytes), GridClientOptions.MaxMergedPushBytes + 1)]
    [InlineData(nameof(GridClientOptions.MaxPushesInFlightPerSilo), 0)]
    [InlineData(nameof(GridClientOptions.MaxPushesInFlightPerSilo), GridClientOptions.MaxPushesInFlightLimit + 1)]
    [InlineData(nameof(GridClientOptions.FetchChunksInFlight), 0)]
    [InlineData(nameof(GridClientOptions.FetchChunksInFlight), GridClientOptions.MaxFetchChunksInFlight + 1)]
    [InlineData(nameof(GridClientOptions.PushRetries), -1)]
    [InlineData(nameof(GridClientOptions.PushRetries), GridClientOptions.MaxPushRetries + 1)]
    [InlineData(nameof(GridClientOptions.MaxRevivesPerPartition), -1)]
    [InlineData(nameof(GridClientOptions.MaxRevivesPerPartition), GridClientOptions.MaxRevivesLimit + 1)]
    [InlineData(nameof(GridClientOptions.MaxRevivesPerPartition), 1000)]
    [InlineData(nameof(GridClientOptions.ZstdLevel), 0)]
    [InlineData(nameof(GridClientOptions.ZstdLevel), 20)]
    public void A_count_out_of_range_is_refused_naming_the_setting(string setting, int value) =>
        AssertRefused(With(setting, value), setting, value.ToString(CultureInfo.InvariantCulture));

    [Theory]
    [InlineData(nameof(GridClientOptions.PushBufferBytes), 1)]
    [InlineData(nameof(GridClientOptions.PushBufferBytes), ProtocolConstants.MaxBatchPayloadBytes)]
    [InlineData(nameof(GridClientOptions.MergedPushBytes), 1)]
    [InlineData(nameof(GridClientOptions.MergedPushBytes), GridClientOptions.MaxMergedPushBytes)]
    [InlineData(nameof(GridClientOptions.MaxPushesInFlightPerSilo), 1)]
    [InlineData(nameof(GridClientOptions.MaxPushesInFlightPerSilo), GridClientOptions.MaxPushesInFlightLimit)]
    [InlineData(nameof(GridClientOptions.FetchChunksInFlight), 1)]
    [InlineData(nameof(GridClientOptions.FetchChunksInFlight), GridClientOptions.MaxFetchChunksInFlight)]
    [InlineData(nameof(GridClientOptions.PushRetries), 0)]
    [InlineData(nameof(GridClientOptions.PushRetries), GridClientOptions.MaxPushRetries)]
    [InlineData(nameof(GridClientOptions.MaxRevivesPerPartition), 0)]
    [InlineData(nameof(GridClientOptions.MaxRevivesPerPartition), GridClientOptions.MaxRevivesLimit)]
    [InlineData(nameof(GridClientOptions.ZstdLevel), 1)]
    [InlineData(nameof(GridClientOptions.ZstdLevel), 19)]
    public void A_count_at_either_end_of_its_range_is_accepted(string setting, int value) => With(setting, value).Validate();

    [Theory]
    [InlineData(nameof(GridClientOptions.ReviveBatchWindow), "-00:00:00.001")]
    [InlineData(nameof(GridClientOptions.ReviveBatchWindow), "00:00:05.0000001")]
    [InlineData(nameof(GridClientOptions.ReviveBatchWindow), "00:01:00")]
    [InlineData(nameof(GridClientOptions.ConnectTimeout), "00:00:00")]
    [InlineData(nameof(GridClientOptions.ConnectTimeout), "-00:00:01")]
    [InlineData(nameof(GridClientOptions.ConnectTimeout), "1.00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.RequestTimeout), "00:00:00")]
    [InlineData(nameof(GridClientOptions.RequestTimeout), "1.00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.HeartbeatInterval), "00:00:00")]
    [InlineData(nameof(GridClientOptions.HeartbeatInterval), "1.00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.ShuffleGrainFailoverTimeout), "-00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.ShuffleGrainFailoverTimeout), "1.00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.CommitWaitTimeout), "-00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.CommitWaitTimeout), "1.00:00:00.0000001")]
    public void A_duration_out_of_range_is_refused_naming_the_setting(string setting, string value) =>
        AssertRefused(With(setting, Span(value)), setting, Span(value).ToString());

    [Theory]
    [InlineData(nameof(GridClientOptions.ReviveBatchWindow), "00:00:00")]
    [InlineData(nameof(GridClientOptions.ReviveBatchWindow), "00:00:05")]
    [InlineData(nameof(GridClientOptions.ConnectTimeout), "00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.ConnectTimeout), "1.00:00:00")]
    [InlineData(nameof(GridClientOptions.RequestTimeout), "00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.RequestTimeout), "1.00:00:00")]
    [InlineData(nameof(GridClientOptions.HeartbeatInterval), "00:00:00.0000001")]
    [InlineData(nameof(GridClientOptions.HeartbeatInterval), "1.00:00:00")]
    [InlineData(nameof(GridClientOptions.ShuffleGrainFailoverTimeout), "00:00:00")]
    [InlineData(nameof(GridClientOptions.ShuffleGrainFailoverTimeout), "1.00:00:00")]
    [InlineData(nameof(GridClientOptions.CommitWaitTimeout), "00:00:00")]
    [InlineData(nameof(GridClientOptions.CommitWaitTimeout), "1.00:00:00")]
    public void A_duration_at_either_end_of_its_range_is_accepted(string setting, string value) => With(setting, Span(value)).Validate();

    [Fact]
    public void The_client_name_must_be_present_and_fit_a_wire_string_in_UTF8_bytes()
    {
        foreach (string? bad in new[] { "", "   ", null })
        {
            var e = Assert.Throws<ArgumentException>(new GridClientOptions { ClientName = bad! }.Validate);
            Assert.Equal(nameof(GridClientOptions.ClientName), e.ParamName);
            Assert.Contains("GridClientOptions.ClientName", e.Message);
        }

        // 2049 two-byte characters are 4098 UTF-8 bytes: too long, though fewer characters than the limit.
        var tooLong = Assert.Throws<ArgumentException>(new GridClientOptions { ClientName = new string('é', ProtocolConstants.MaxStringBytes / 2 + 1) }.Validate);
        Assert.Equal(nameof(GridClientOptions.ClientName), tooLong.ParamName);
        Assert.Contains($"{ProtocolConstants.MaxStringBytes} UTF-8 bytes", tooLong.Message);

        new GridClientOptions { ClientName = new string('é', ProtocolConstants.MaxStringBytes / 2) }.Validate();
        new GridClientOptions { ClientName = new string('a', ProtocolConstants.MaxStringBytes) }.Validate();
    }

    [Fact]
    public void An_unknown_codec_is_refused_and_every_known_one_accepted()
    {
        AssertRefused(new GridClientOptions { Compression = (BatchCodec)7 }, nameof(GridClientOptions.Compression), "7");
        foreach (var codec in Enum.GetValues<BatchCodec>()) new GridClientOptions { Compression = codec }.Validate();
        Assert.Equal(BatchCodec.Lz4, new GridClientOptions().Compression);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 TestCertificate()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        return new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=test", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
    }

    [Fact]
    public void Clone_copies_every_setting()
    {
        // Every public setting gets a valid value other than its default, so a setting Clone forgets shows.
        var defaults = new GridClientOptions();
        var custom = new GridClientOptions();
        foreach (var setting in Settings)
        {
            object changed = setting.GetValue(defaults) switch
            {
                int i => i + 1,
                TimeSpan t => t + TimeSpan.FromMilliseconds(1),
                string s => s + "-custom",
                BatchCodec c => c == BatchCodec.Lz4 ? BatchCodec.Zstd : BatchCodec.Lz4,
                null when setting.PropertyType == typeof(System.Security.Cryptography.X509Certificates.X509Certificate2) => TestCertificate(),
                var other => throw new InvalidOperationException($"Setting {setting.Name} of type {other?.GetType()} has no test value."),
            };
            setting.SetValue(custom, changed);
        }
        custom.Validate();

        var copy = custom.Clone();
        Assert.NotSame(custom, copy);
        foreach (var setting in Settings)
        {
            Assert.Equal(setting.GetValue(custom), setting.GetValue(copy));
            Assert.NotEqual(setting.GetValue(defaults), setting.GetValue(copy));
        }

        // The revive settings at the edges of their ranges, as a driver may set them.
        var edges = new GridClientOptions { ReviveBatchWindow = TimeSpan.Zero, MaxRevivesPerPartition = 0 };
        edges.Validate();
        var edgesCopy = edges.Clone();
        Assert.Equal((TimeSpan.Zero, 0), (edgesCopy.ReviveBatchWindow, edgesCopy.MaxRevivesPerPartition));
    }

    [Fact]
    public void The_data_connections_get_the_clients_name_and_timeouts()
    {
        var options = new GridClientOptions
        {
            ClientName = "executor-7",
            ConnectTimeout = TimeSpan.FromSeconds(3),
            RequestTimeout = TimeSpan.FromSeconds(45),
        };
        var connection = options.ToConnectionOptions();
        Assert.Equal(("executor-7", TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(45)),
            (connection.PeerName, connection.ConnectTimeout, connection.RequestTimeout));
    }
}

/// <summary>Replicas moved from the client's options to the driver's <see cref="ShuffleSpec"/>; the same values are refused.</summary>
public class ShuffleSpecReplicasTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-1)]
    public void Replicas_must_be_one_or_two(int replicas)
    {
        var e = Assert.Throws<GridException>(new ShuffleSpec(1, 1, replicas).Validate);
        Assert.Equal(GridErrorCode.InvalidArgument, e.Code);
        Assert.Contains("Replicas", e.Message);
    }

    [Fact]
    public void One_or_two_replicas_are_accepted_and_two_is_the_default()
    {
        Assert.Equal(2, new ShuffleSpec(1, 1).Replicas);
        new ShuffleSpec(1, 1, 1).Validate();
        new ShuffleSpec(1, 1, 2).Validate();
    }
}
