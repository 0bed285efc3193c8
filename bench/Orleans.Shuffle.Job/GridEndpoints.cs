using System.Globalization;

namespace Orleans.Shuffle.Job;

/// <summary>Parses the "host:port[,host:port...]" lists that --grid takes and that executors are handed.</summary>
public static class GridEndpoints
{
    public static IReadOnlyList<string> Parse(string text)
    {
        var endpoints = new List<string>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // The last colon separates the port, so "[::1]:7000" works too.
            int colon = part.LastIndexOf(':');
            if (colon <= 0 || colon == part.Length - 1
                || !int.TryParse(part.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)
                || port is < 1 or > 65535)
                throw new FormatException($"'{part}' is not a grid endpoint: use host:port, e.g. 127.0.0.1:30000.");
            endpoints.Add(part);
        }
        if (endpoints.Count == 0) throw new FormatException("No grid endpoint given: use host:port[,host:port...].");
        return endpoints;
    }

    public static string Format(IEnumerable<string> endpoints) => string.Join(',', endpoints);
}
