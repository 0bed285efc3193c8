using System.Security.Cryptography;

namespace Orleans.Shuffle.Security;

/// <summary>
/// The 256-bit secret of one application. The driver creates it when it registers the application
/// and hands it to its executors; the ShuffleGrain keeps it in its state. Control calls prove it with
/// a token (<see cref="GridAuthentication.ControlToken"/>), data connections with an HMAC over the
/// silo's challenge (<see cref="GridAuthentication.DataPlaneProof"/>). It never appears in logs:
/// <see cref="ToString"/> hides it.
/// </summary>
[GenerateSerializer, Immutable]
public sealed class ApplicationSecret
{
    public const int Bytes = 32;

    [Id(0)] private readonly byte[] _value;

    private ApplicationSecret(byte[] value) => _value = value;

    /// <summary>A new random secret (the operating system's cryptographic generator).</summary>
    public static ApplicationSecret Create() => new(RandomNumberGenerator.GetBytes(Bytes));

    /// <summary>The secret as base64, the form a driver passes to its executors (an environment variable, not a command line).</summary>
    public string ToBase64() => Convert.ToBase64String(_value);

    /// <summary>Parses <see cref="ToBase64"/>'s form; anything but 32 bytes of base64 is refused.</summary>
    public static ApplicationSecret FromBase64(string text)
    {
        byte[] value;
        try
        {
            value = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException)
        {
            throw new ArgumentException("An application secret is 32 bytes in base64; this is not base64.", nameof(text));
        }
        if (value.Length != Bytes) throw new ArgumentException($"An application secret is {Bytes} bytes; this one has {value.Length}.", nameof(text));
        return new ApplicationSecret(value);
    }

    internal ReadOnlySpan<byte> Value => _value;

    /// <summary>Constant-time: a caller learns nothing of the secret from how long a refusal took.</summary>
    public bool Matches(ApplicationSecret? other) => other is not null && CryptographicOperations.FixedTimeEquals(_value, other._value);

    public override string ToString() => "ApplicationSecret(hidden)";
}
