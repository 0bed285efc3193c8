using Orleans.Shuffle.Security;

namespace Orleans.Shuffle.Tests.Security;

/// <summary>The grid's tokens and proofs: each proves one secret, for one purpose, for a while.</summary>
public class GridAuthenticationTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_control_token_proves_its_application_and_secret_only()
    {
        var secret = ApplicationSecret.Create();
        string token = GridAuthentication.ControlToken(secret, "app-1", Now);
        Assert.Null(GridAuthentication.CheckControlToken(secret, "app-1", token, Now));
        Assert.Contains("does not prove", GridAuthentication.CheckControlToken(secret, "app-2", token, Now));
        Assert.Contains("does not prove", GridAuthentication.CheckControlToken(ApplicationSecret.Create(), "app-1", token, Now));
        Assert.Contains("no credential", GridAuthentication.CheckControlToken(secret, "app-1", null, Now));
        foreach (string malformed in new[] { "x", "v1.abc.AAAA", "v2." + token[3..], token + ".x", token[..^4] + "!!!!" })
            Assert.NotNull(GridAuthentication.CheckControlToken(secret, "app-1", malformed, Now));
    }

    [Fact]
    public void A_token_is_good_for_five_minutes_either_way_of_the_silos_clock()
    {
        var secret = ApplicationSecret.Create();
        string token = GridAuthentication.ControlToken(secret, "app-1", Now);
        Assert.Null(GridAuthentication.CheckControlToken(secret, "app-1", token, Now.AddMinutes(5)));
        Assert.Null(GridAuthentication.CheckControlToken(secret, "app-1", token, Now.AddMinutes(-5)));
        Assert.Contains("301 s old", GridAuthentication.CheckControlToken(secret, "app-1", token, Now.AddSeconds(301)));
        Assert.NotNull(GridAuthentication.CheckControlToken(secret, "app-1", token, Now.AddSeconds(-301)));
    }

    [Fact]
    public void Member_and_application_tokens_are_not_interchangeable()
    {
        byte[] cluster = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        string member = GridAuthentication.MemberToken(cluster, Now);
        Assert.Null(GridAuthentication.CheckMemberToken(cluster, member, Now));
        Assert.NotNull(GridAuthentication.CheckMemberToken(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), member, Now));
        // An application whose secret happened to be the cluster secret still could not pass its token off as a member's.
        var secret = ApplicationSecret.FromBase64(Convert.ToBase64String(cluster));
        Assert.NotNull(GridAuthentication.CheckMemberToken(cluster, GridAuthentication.ControlToken(secret, "member", Now), Now));
        Assert.NotNull(GridAuthentication.CheckControlToken(secret, "member", member, Now));
    }

    [Fact]
    public void A_data_plane_proof_binds_the_challenge_the_silo_the_kind_and_the_name()
    {
        var credential = DataPlaneCredential.ForApplication("app-1", ApplicationSecret.Create());
        byte[] challenge = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        byte[] proof = credential.Prove(challenge, "127.0.0.1:1@1");
        Assert.Equal(32, proof.Length);
        Assert.Equal(proof, credential.Prove(challenge, "127.0.0.1:1@1"));
        Assert.NotEqual(proof, credential.Prove(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), "127.0.0.1:1@1"));
        Assert.NotEqual(proof, credential.Prove(challenge, "127.0.0.1:2@1"));
        Assert.False(GridAuthentication.ProofMatches(proof, proof[..31]));
        Assert.Throws<ArgumentException>(() => DataPlaneCredential.ForSilo("s", new byte[31]));
    }

    [Fact]
    public void A_secret_never_shows_in_text_and_parses_back_from_base64_only_whole()
    {
        var secret = ApplicationSecret.Create();
        Assert.DoesNotContain(secret.ToBase64(), secret.ToString());
        Assert.True(ApplicationSecret.FromBase64(secret.ToBase64()).Matches(secret));
        Assert.False(ApplicationSecret.Create().Matches(secret));
        Assert.Throws<ArgumentException>(() => ApplicationSecret.FromBase64(Convert.ToBase64String(new byte[16])));
        Assert.Throws<ArgumentException>(() => ApplicationSecret.FromBase64("not base64!"));
    }
}
