using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orleans.Shuffle.Client.Hosting;

namespace Orleans.Shuffle.Tests.Client;

/// <summary>The first-connection retry filter: waits that double up to a cap, and giving up past the timeout.</summary>
public class ClusterConnectRetryFilterTests
{
    private static readonly Exception Refused = new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused);

    [Fact]
    public async Task Waits_double_up_to_the_cap_and_it_gives_up_once_the_timeout_would_pass()
    {
        var time = new FakeTimeProvider();
        var options = new ClusterConnectRetryOptions { Timeout = TimeSpan.FromSeconds(3), FirstDelay = TimeSpan.FromMilliseconds(500), MaxDelay = TimeSpan.FromSeconds(1) };
        var filter = new ClusterConnectRetryFilter(options, time, NullLogger<ClusterConnectRetryFilter>.Instance);

        // 500 ms, then 1 s, then 1 s (capped): 2.5 s in all; a fourth wait would end past 3 s.
        foreach (var wait in new[] { 500, 1000, 1000 })
        {
            var retry = filter.ShouldRetryConnectionAttempt(Refused, CancellationToken.None);
            time.Advance(TimeSpan.FromMilliseconds(wait - 1));
            Assert.False(retry.IsCompleted);
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(await retry.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        Assert.False(await filter.ShouldRetryConnectionAttempt(Refused, CancellationToken.None));
        Assert.Equal(4, filter.Failures);
    }

    [Fact]
    public void Bad_options_are_refused_with_what_to_fix()
    {
        var bad = new ClusterConnectRetryOptions { FirstDelay = TimeSpan.Zero, MaxDelay = TimeSpan.FromSeconds(-1) };
        var client = new Orleans.Hosting.ClientBuilder(new Microsoft.Extensions.DependencyInjection.ServiceCollection(), new Microsoft.Extensions.Configuration.ConfigurationManager());
        var error = Assert.Throws<ArgumentException>(() => client.UseClusterConnectRetry(bad));
        Assert.Contains("FirstDelay", error.Message);
        Assert.Contains("MaxDelay", error.Message);
    }
}
