using System.Diagnostics.CodeAnalysis;

namespace Orleans.Shuffle.Client;

/// <summary>A "host:port" gateway address, parsed once so the connection pool gets host and port apart.</summary>
internal readonly record struct GatewayEndpoint(string Host, int Port)
{
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>
    /// Accepts "host:port", "1.2.3.4:port" and "[::1]:port". The port must be 1..65535. On failure
    /// <paramref name="error"/> says what is wrong, for the options' validation message.
    /// </summary>
    public static bool TryParse(string? text, out GatewayEndpoint endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "a gateway is empty";
            return false;
        }
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"gateway '{text}' is not of the form host:port";
            return false;
        }
        string host = text[..colon].Trim();
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (host.Length == 0 || host.Contains(' '))
        {
            error = $"gateway '{text}' has no valid host";
            return false;
        }
        if (!int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, null, out int port) || port < 1 || port > 65535)
        {
            error = $"gateway '{text}' has no valid port (1..65535)";
            return false;
        }
        endpoint = new GatewayEndpoint(host, port);
        error = null;
        return true;
    }
}
