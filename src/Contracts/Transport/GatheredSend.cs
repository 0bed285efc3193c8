using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Orleans.Shuffle.Transport;

/// <summary>
/// One gathered send (sendmsg over several buffers) that can be awaited without allocating: the
/// socket's own <c>SendAsync(IList&lt;ArraySegment&lt;byte&gt;&gt;)</c> returns a new Task&lt;int&gt; each
/// call. One per connection, reused under its write lock; one send at a time.
/// </summary>
internal sealed class GatheredSend : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _source = new() { RunContinuationsAsynchronously = true };

    public GatheredSend() : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>Sends every byte of <paramref name="buffers"/> (the list is copied; its arrays must stay unchanged until the send completes).</summary>
    public ValueTask<int> SendAsync(Socket socket, IList<ArraySegment<byte>> buffers)
    {
        _source.Reset();
        BufferList = buffers;
        if (socket.SendAsync(this)) return new ValueTask<int>(this, _source.Version);
        return SocketError == SocketError.Success
            ? new ValueTask<int>(BytesTransferred)
            : ValueTask.FromException<int>(new SocketException((int)SocketError));
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (SocketError == SocketError.Success) _source.SetResult(BytesTransferred);
        else _source.SetException(new SocketException((int)SocketError));
    }

    int IValueTaskSource<int>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
