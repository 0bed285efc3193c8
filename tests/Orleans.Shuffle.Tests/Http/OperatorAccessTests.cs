using System.Net;
using Orleans.Shuffle.Silo.Http;

namespace Orleans.Shuffle.Tests.Http;

/// <summary>The rule behind /state's access; the silo process tests check it over real HTTP.</summary>
public sealed class OperatorAccessTests
{
    private static readonly IPAddress Remote = IPAddress.Parse("10.1.2.3");

    [Fact]
    public void Without_a_token_only_loopback_may_read()
    {
        Assert.Null(OperatorAccess.Refusal(IPAddress.Loopback, null, ""));
        Assert.Null(OperatorAccess.Refusal(IPAddress.IPv6Loopback, null, ""));
        Assert.Contains("Only this machine", OperatorAccess.Refusal(Remote, null, ""));
        Assert.Contains("Only this machine", OperatorAccess.Refusal(Remote, "Bearer anything", ""));
        Assert.NotNull(OperatorAccess.Refusal(null, null, ""));
    }

    [Fact]
    public void With_a_token_everyone_needs_it_loopback_included()
    {
        const string Token = "s3cret-token";
        Assert.Null(OperatorAccess.Refusal(Remote, "Bearer " + Token, Token));
        Assert.Null(OperatorAccess.Refusal(IPAddress.Loopback, "Bearer " + Token, Token));
        Assert.Contains("needs the operator token", OperatorAccess.Refusal(IPAddress.Loopback, null, Token));
        Assert.Contains("needs the operator token", OperatorAccess.Refusal(Remote, "Basic " + Token, Token));
        Assert.Contains("does not match", OperatorAccess.Refusal(Remote, "Bearer " + Token + "x", Token));
        Assert.Contains("does not match", OperatorAccess.Refusal(Remote, "Bearer ", Token));
    }
}
