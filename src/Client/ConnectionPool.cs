using System.Collections.Concurrent;
using Orleans.Shuffle.Transport;

namespace Orleans.Shuffle.Client;

/// <summary>
/// One multiplexed <see cref="GridConnection"/> per silo endpoint, shared by every writer and
/// reader of a <see cref="GridClient"/>. A closed connection is replaced on the next request.
/// </summary>
internal sealed class ConnectionPool : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string Host, int Port), PooledEndpoint> _endpoints = new();
    private readonly Func<bool> _isDisposed;
    private volatile bool _disposed;

    public ConnectionPool(GridConnectionOptions options)
    {
        Options = options;
        _isDisposed = () => _disposed;
    }

    public GridConnectionOptions Options { get; }

    /// <summary>The open connection to host:port, connecting (with Hello) if there is none.</summary>
    public ValueTask<GridConnection> GetAsync(string host, int port, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var endpoint = _endpoints.GetOrAdd((host, port), static key => new PooledEndpoint(key.Host, key.Port));
        var live = endpoint.Live;
        return live is not null
            ? ValueTask.FromResult(live)
            : new ValueTask<GridConnection>(endpoint.ConnectAsync(Options, _isDisposed, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        // The flag is set before the walk: an endpoint added after the walk passed it sees the flag
        // when it tries to connect, and one added before is in the walk.
        _disposed = true;
        foreach (var endpoint in _endpoints.Values)
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }
    }
}
