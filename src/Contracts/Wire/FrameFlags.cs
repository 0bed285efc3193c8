namespace Orleans.Shuffle.Wire;

[Flags]
public enum FrameFlags : byte
{
    None = 0,

    /// <summary>This frame answers the request with the same request id.</summary>
    Response = 1,

    /// <summary>With <see cref="Response"/>: the body is an <see cref="Messages.ErrorReply"/>.</summary>
    Error = 2,
}
