using Orleans.Shuffle.Transport;

namespace Orleans.Shuffle.Client;

/// <summary>
/// The one connection of a <see cref="ConnectionPool"/> to one silo endpoint. Readers take the live
/// connection without locking; reconnecting is serialized so a broken connection is replaced once,
/// not once per waiting push.
/// </summary>
internal sealed class PooledEndpoint(string host, int port)
{
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private GridConnection? _connection;
    private bool _disposed;

    public string Host { get; } = host;

    public int Port { get; } = port;

    /// <summary>The current connection if it is still open, else null.</summary>
    public GridConnection? Live => Volatile.Read(ref _connection) is { IsConnected: true } connection ? connection : null;

    /// <summary>
    /// Replaces a closed connection. <paramref name="poolDisposed"/> is checked under the lock: an
    /// endpoint added while the pool was being disposed must not open a connection nobody closes.
    /// </summary>
    public async Task<GridConnection> ConnectAsync(GridConnectionOptions options, Func<bool> poolDisposed, CancellationToken cancellationToken)
    {
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed || poolDisposed(), this);
            if (Live is { } live) return live;
            var stale = Interlocked.Exchange(ref _connection, null);
            if (stale is not null) await stale.DisposeAsync().ConfigureAwait(false);

            var fresh = await GridConnection.ConnectAsync(Host, Port, options, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _connection, fresh);
            return fresh;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Taking the lock waits for a connect in progress, so no connection is opened after disposal.
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            var connection = Interlocked.Exchange(ref _connection, null);
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _connectLock.Release();
        }
    }
}
