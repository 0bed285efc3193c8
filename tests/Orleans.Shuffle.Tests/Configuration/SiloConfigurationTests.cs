using Microsoft.Extensions.Configuration;
using Orleans.Shuffle.Silo.Hosting;

namespace Orleans.Shuffle.Tests.Configuration;

public class SiloConfigurationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Bad_values_are_all_listed()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloConfiguration.Load(Config(
            ("Silo:Port", "70000"),
            ("Silo:ClusterId", "../../etc"),
            ("Storage:Directories:0", Path.GetTempPath()),
            ("Storage:FlushBufferBytes", "1"))));
        Assert.Equal(3, e.Failures.Count);
        Assert.Contains(e.Failures, f => f.Contains("Silo:Port") && f.Contains("70000"));
        Assert.Contains(e.Failures, f => f.Contains("Silo:ClusterId"));
        Assert.Contains(e.Failures, f => f.Contains("Storage:FlushBufferBytes"));
        Assert.All(e.Failures, f => Assert.Contains(f, e.Message));
    }

    [Theory]
    [InlineData("")]
    [InlineData("é")]
    [InlineData("a/b")]
    [InlineData(".")]
    public void Cluster_ids_outside_the_alphabet_are_refused(string clusterId)
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloConfiguration.Load(Config(("Silo:ClusterId", clusterId))));
        Assert.Contains(e.Failures, f => f.Contains("Silo:ClusterId"));
    }

    [Fact]
    public void Values_that_do_not_bind_are_listed_with_the_others()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloConfiguration.Load(Config(
            ("Silo:Port", "not-a-number"),
            ("Network:MaxFrameBodyBytes", "10"),
            ("Applications:HeartbeatTtl", "-00:00:01"))));
        Assert.Contains(e.Failures, f => f.StartsWith("Silo:", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Network:MaxFrameBodyBytes"));
        Assert.Contains(e.Failures, f => f.Contains("Applications:HeartbeatTtl"));
    }

    [Fact]
    public void Good_values_load_with_defaults_filled_in()
    {
        var config = SiloConfiguration.Load(Config(
            ("Silo:ClusterId", "c1"),
            ("Silo:Port", "0"),
            ("Silo:HttpPort", "-1"),
            ("Storage:SlotsPerDisk", "7"),
            ("Applications:HeartbeatTtl", "00:00:02")));
        Assert.Equal("c1", config.Silo.ClusterId);
        Assert.Equal(0, config.Silo.Port);
        Assert.Equal(-1, config.Silo.HttpPort);
        Assert.Equal(7, config.Storage.SlotsPerDisk);
        Assert.Equal(TimeSpan.FromSeconds(2), config.Applications.HeartbeatTtl);
        Assert.Single(config.Storage.Directories);
        Assert.Contains("c1", config.Membership.FilePath);
        Assert.False(string.IsNullOrEmpty(config.Silo.Name));
    }

    [Fact]
    public void Equal_grid_and_http_ports_are_refused()
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloConfiguration.Load(Config(("Silo:Port", "9000"), ("Silo:HttpPort", "9000"))));
        Assert.Contains(e.Failures, f => f.Contains("must differ"));
    }
}
