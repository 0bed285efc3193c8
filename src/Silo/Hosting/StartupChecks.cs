using System.Net;
using System.Net.Sockets;
using Orleans.Shuffle.Grains.Partition;
using Orleans.Shuffle.Grains.Storage;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// What a silo checks before it starts anything, so that it exits at once with a message saying what
/// to fix instead of half starting: its ports are free (Orleans does not always fail on a port that
/// another silo already listens on), and at least one storage directory works.
/// </summary>
internal static class StartupChecks
{
    public static IReadOnlyList<string> Problems(SiloConfiguration config) => [.. PortsInUse(config.Silo)];

    public static IEnumerable<string> PortsInUse(SiloOptions silo)
    {
        var address = IPAddress.Parse(silo.ListenAddress);
        foreach (var (setting, port, flag) in new[]
                 {
                     ("SiloPort", silo.SiloPort, "--silo-port"), ("GatewayPort", silo.GatewayPort, "--gateway-port"),
                     ("DataPort", silo.DataPort, "--data-port"), ("HttpPort", silo.HttpPort, "--http-port"),
                 })
        {
            if (port <= 0) continue;
            if (InUse(address, port, out string? error))
                yield return $"Silo:{setting} {port} on {address} is in use ({error}): another silo or process listens on it; choose another with {flag}.";
        }
    }

    /// <summary>
    /// Nothing when at least one disk passed its probe (<see cref="DiskProbe"/>) and has slots; a disk
    /// that failed is left out and the silo serves from the others. Otherwise one line per disk.
    /// </summary>
    public static IEnumerable<string> NoUsableDisk(PartitionCatalog catalog)
    {
        if (catalog.UsableDisks.Any()) yield break;
        foreach (var disk in catalog.Disks)
        {
            string why = disk.Problem ?? $"no slots ({nameof(StorageOptions.ReservedBytesPerDisk)} leaves no room for a partition of {nameof(StorageOptions.EstimatedPartitionBytes)})";
            yield return $"Storage directory {disk.Root} cannot be used ({why}): fix its permissions, mount or free space, or choose another with --disk.";
        }
    }

    private static bool InUse(IPAddress address, int port, out string? error)
    {
        error = null;
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ExclusiveAddressUse = true };
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(1);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            error = e.Message;
            return true;
        }
    }
}
