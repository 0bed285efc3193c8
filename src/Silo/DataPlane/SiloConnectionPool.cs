using System.Buffers;
using System.Collections.Concurrent;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Transport;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>Outbound connections from this silo to other silos, one per endpoint, reopened when they break.</summary>
public sealed class SiloConnectionPool(GridConnectionOptions options) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string Host, int Port), Lazy<Task<GridConnection>>> _connections = new();

    /// <summary>Sends <paramref name="head"/> and then <paramref name="trailer"/> from its own buffers as one request (see <see cref="GridConnection"/>).</summary>
    public async Task<GridResponse> SendAsync<T>(
        string host, int port, MessageType type, T head, ReadOnlySequence<byte> trailer, CancellationToken cancellationToken)
        where T : IWireMessage<T>
    {
        var connection = await GetAsync(host, port, cancellationToken).ConfigureAwait(false);
        return await connection.SendAsync(type, head, trailer, cancellationToken).ConfigureAwait(false);
    }

    private async Task<GridConnection> GetAsync(string host, int port, CancellationToken cancellationToken)
    {
        var key = (host, port);
        for (int attempt = 0; ; attempt++)
        {
            var lazy = _connections.GetOrAdd(key, static (k, options) => new Lazy<Task<GridConnection>>(() => GridConnection.ConnectAsync(k.Host, k.Port, options, CancellationToken.None)), options);
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
            if (attempt >= 1) throw new GridException(GridErrorCode.SiloUnavailable, $"Cannot reach silo {host}:{port}.");
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
