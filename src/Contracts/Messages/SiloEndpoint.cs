using System.Text.Json.Serialization;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Messages;

/// <summary>A silo as a location names it: identity (with generation) and grid endpoint.</summary>
public sealed record SiloEndpoint(string Identity, string Host, int Port)
{
    public const int MinWireBytes = 2 + 2 + 4;

    [JsonIgnore]
    public string Endpoint => $"{Host}:{Port}";

    public void Write(WireWriter writer)
    {
        writer.WriteString(Identity);
        writer.WriteString(Host);
        writer.WriteInt32(Port);
    }

    public static SiloEndpoint Read(ref WireReader reader)
    {
        var endpoint = new SiloEndpoint(reader.ReadString(), reader.ReadString(), reader.ReadInt32());
        if (endpoint.Port is < 0 or > 65535) throw WireReader.Malformed("port out of range");
        return endpoint;
    }

    /// <summary>u8 presence flag, then the endpoint if present.</summary>
    public static void WriteOptional(WireWriter writer, SiloEndpoint? endpoint)
    {
        writer.WriteBool(endpoint is not null);
        endpoint?.Write(writer);
    }

    public static SiloEndpoint? ReadOptional(ref WireReader reader) => reader.ReadBool() ? Read(ref reader) : null;
}
