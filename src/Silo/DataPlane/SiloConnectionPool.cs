using System.Collections.Concurrent;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>Outbound connections from this silo to other silos, one per endpoint, reopened when they break.</summary>
public sealed class SiloConnectionPool(GridConnectionOptions options) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<GridConnection>>> _connections = new();

    public async Task<GridResponse> SendAsync<T>(
        string host, int port, MessageType type, T body, CancellationToken cancellationToken, FrameFlags flags = FrameFlags.None, int bodySizeHint = 256)
        where T : IWireMessage<T>
    {
        var connection = await GetAsync(host, port, cancellationToken).ConfigureAwait(false);
        return await connection.SendAsync(type, body, cancellationToken, flags, bodySizeHint).ConfigureAwait(false);
    }

    private async Task<GridConnection> GetAsync(string host, int port, CancellationToken cancellationToken)
    {
        string key = $"{host}:{port}";
        for (int attempt = 0; ; attempt++)
        {
            var lazy = _connections.GetOrAdd(key, _ => new Lazy<Task<GridConnection>>(() => GridConnection.ConnectAsync(host, port, options, CancellationToken.None)));
            try
            {
                var connection = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
                if (connection.IsConnected) return connection;
                _connections.TryRemove(new(key, lazy));
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (GridException) when (attempt == 0)
            {
                _connections.TryRemove(new(key, lazy));
            }
            catch (GridException)
            {
                _connections.TryRemove(new(key, lazy));
                throw;
            }
            if (attempt >= 1) throw new GridException(GridErrorCode.SiloUnavailable, $"Cannot reach silo {key}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lazy in _connections.Values)
        {
            if (!lazy.IsValueCreated) continue;
            try { await (await lazy.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false); } catch (GridException) { }
        }
        _connections.Clear();
    }
}
