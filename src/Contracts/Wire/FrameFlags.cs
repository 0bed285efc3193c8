namespace Orleans.Shuffle.Wire;

[Flags]
public enum FrameFlags : byte
{
    None = 0,

    /// <summary>This frame answers the request with the same request id.</summary>
    Response = 1,

    /// <summary>With <see cref="Response"/>: the body is an <see cref="Messages.ErrorReply"/>.</summary>
    Error = 2,

    /// <summary>
    /// A gateway silo forwarded this request to the silo it believes hosts the grain. The receiver
    /// serves it locally even if its own view disagrees, so two silos with different views can never
    /// bounce a request between them.
    /// </summary>
    Forwarded = 4,
}
