using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Benchmarks;

/// <summary>
/// The smallest silo a client can talk to, so that client-side allocations can be measured alone: a
/// blocking socket on 127.0.0.1, one thread per connection, that reads whole frames into one reused
/// buffer and answers from replies serialized once (HelloOk; the empty PushReply; a fixed chunk for
/// every FetchChunk). It allocates nothing per request.
/// </summary>
internal sealed class FakeSilo : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Thread _acceptor;
    private readonly List<Socket> _accepted = [];
    private readonly byte[] _helloOk;
    private readonly byte[] _pushReply;
    private readonly byte[][] _chunks;

    /// <param name="chunks">The body of the reply to a FetchChunk of chunk i (taken modulo the count).</param>
    public FakeSilo(byte[][] chunks)
    {
        _chunks = chunks;
        _helloOk = Serialize(MessageType.Hello, new HelloOk(ProtocolConstants.Version, "fake", "fake", []));
        _pushReply = Serialize(MessageType.PushData, PushReply.None);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptor = new Thread(Accept) { IsBackground = true, Name = "fake silo accept" };
        _acceptor.Start();
    }

    public int Port { get; }

    private static byte[] Serialize<T>(MessageType type, T body) where T : IWireMessage<T>
    {
        using var output = new PooledBufferWriter();
        FrameWriter.Write(output, type, FrameFlags.Response, 0, body, int.MaxValue);
        return output.WrittenSpan.ToArray();
    }

    private void Accept()
    {
        try
        {
            // Ends when the listener is closed.
            while (true)
            {
                var socket = _listener.Accept();
                socket.NoDelay = true;
                lock (_accepted) _accepted.Add(socket);
                new Thread(() => Serve(socket)) { IsBackground = true, Name = "fake silo connection" }.Start();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private void Serve(Socket socket)
    {
        var header = new byte[FrameHeader.Size];
        var body = new byte[1024 * 1024];
        var chunkHeader = new byte[FrameHeader.Size];
        // Copies of this connection's own: the request id is patched into them.
        var helloOk = (byte[])_helloOk.Clone();
        var pushReply = (byte[])_pushReply.Clone();
        try
        {
            // Ends when either side closes the connection.
            while (ReceiveExactly(socket, header))
            {
                int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(header);
                var type = (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4));
                ulong requestId = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
                if (bodyLength > body.Length) body = new byte[bodyLength];
                if (!ReceiveExactly(socket, body.AsSpan(0, bodyLength))) return;
                switch (type)
                {
                    case MessageType.Hello:
                        SendWithId(socket, helloOk, requestId);
                        break;
                    case MessageType.PushData:
                        SendWithId(socket, pushReply, requestId);
                        break;
                    case MessageType.FetchChunk:
                        // Body: u16 appId length, appId, shuffle, partition, epoch, chunk index, ...
                        int appIdLength = BinaryPrimitives.ReadUInt16LittleEndian(body);
                        int chunkIndex = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(2 + appIdLength + 12));
                        var chunk = _chunks[chunkIndex % _chunks.Length];
                        new FrameHeader(chunk.Length, MessageType.FetchChunk, FrameFlags.Response, requestId).Write(chunkHeader);
                        SendAll(socket, chunkHeader);
                        SendAll(socket, chunk);
                        break;
                    default:
                        return;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static void SendWithId(Socket socket, byte[] frame, ulong requestId)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(8), requestId);
        SendAll(socket, frame);
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        // Bounded: each round sends at least one byte or throws.
        while (!data.IsEmpty) data = data[socket.Send(data)..];
    }

    private static bool ReceiveExactly(Socket socket, Span<byte> destination)
    {
        // Bounded: each round receives at least one byte, or the peer closed.
        while (!destination.IsEmpty)
        {
            int n = socket.Receive(destination);
            if (n == 0) return false;
            destination = destination[n..];
        }
        return true;
    }

    public void Dispose()
    {
        _listener.Dispose();
        lock (_accepted)
        {
            foreach (var socket in _accepted)
            {
                // The connection's thread may have closed it already.
                try { socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
                socket.Dispose();
            }
        }
        _acceptor.Join(TimeSpan.FromSeconds(5));
    }
}
