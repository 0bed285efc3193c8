using System.Text.Json;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Reads a local silo's HTTP /state (JSON): which partitions it stores, and how it sees the
/// membership. Used only for local grids: to wait until every silo sees every other, and to pick the
/// silo --kill-silo kills.
/// </summary>
internal sealed class SiloState(JsonElement root)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private static readonly HttpClient Http = new() { Timeout = RequestTimeout };

    public static async Task<SiloState> FetchAsync(LocalSilo silo, CancellationToken ct)
    {
        string endpoint = silo.Ready.IsCompletedSuccessfully ? silo.Ready.Result.HttpEndpoint : "";
        if (endpoint.Length == 0 || endpoint == "-") throw new HttpRequestException($"{silo.Name} has no HTTP endpoint.");
        await using var stream = await Http.GetStreamAsync(new Uri($"http://{endpoint}/state"), ct).ConfigureAwait(false);
        using var document = await JsonDocument.ParseAsync(stream, cancellationToken: ct).ConfigureAwait(false);
        return new SiloState(document.RootElement.Clone());
    }

    /// <summary>Partition epochs (primary or replica copies) of the application that the silo stores.</summary>
    public int PartitionsOf(string appId) => Objects("partitions").Count(p => StringOf(p, "appId") == appId);

    /// <summary>Silos this silo's membership view lists as Active.</summary>
    public int ActiveSilos =>
        root.TryGetProperty("membership", out var membership) && membership.ValueKind == JsonValueKind.Object
            ? Objects(membership, "silos").Count(s => StringOf(s, "status") == "Active")
            : 0;

    private IEnumerable<JsonElement> Objects(string property) => Objects(root, property);

    private static IEnumerable<JsonElement> Objects(JsonElement parent, string property) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(property, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object)
            : [];

    private static string? StringOf(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
