using System.Net;
using System.Net.Sockets;
using Orleans.Shuffle.Grains.Storage;

namespace Orleans.Shuffle.Silo.Hosting;

/// <summary>
/// What a silo checks before it starts anything, so that it exits at once with a message saying what
/// to fix instead of half starting: its ports are free (Orleans does not always fail on a port that
/// another silo already listens on), and every storage directory can be written.
/// </summary>
internal static class StartupChecks
{
    public static IReadOnlyList<string> Problems(SiloConfiguration config) =>
        [.. PortsInUse(config.Silo), .. UnwritableDirectories(config.Storage)];

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

    public static IEnumerable<string> UnwritableDirectories(StorageOptions storage)
    {
        foreach (string directory in storage.Directories)
        {
            string? problem = null;
            try
            {
                Directory.CreateDirectory(directory);
                string probe = Path.Combine(directory, $".write-check-{Environment.ProcessId}");
                File.WriteAllBytes(probe, [1]);
                File.Delete(probe);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = e.Message;
            }
            if (problem is not null)
                yield return $"Storage directory {directory} cannot be written ({problem}): fix its permissions or mount, or choose another with --disk.";
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
