using System.Buffers;
using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Transport;

/// <summary>How a <see cref="GridConnection"/> turns a reply body into what the caller awaits; cached delegates, so a request allocates none.</summary>
internal static class ReplyReaders
{
    /// <summary>The body copied into a pooled buffer, for replies that outlive the connection's read buffer (chunks).</summary>
    public static readonly Func<ReadOnlySequence<byte>, GridResponse> Response = static body => new GridResponse(body);

    /// <summary>The body decoded as <typeparamref name="T"/>; trailing bytes are malformed.</summary>
    public static class Message<T> where T : IWireMessage<T>
    {
        public static readonly Func<ReadOnlySequence<byte>, T> Read = WireMessage.ReadWhole<T>;
    }
}
