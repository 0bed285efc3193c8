namespace Orleans.Shuffle.Wire;

/// <summary>An error that crosses the wire: the code travels in an error response, the message with it.</summary>
public sealed class GridException(ErrorCode code, string message, Exception? inner = null) : Exception(message, inner)
{
    public ErrorCode Code { get; } = code;

    public override string ToString() => $"{Code}: {Message}";
}
