namespace Orleans.Shuffle.Wire;

/// <summary>
/// An error with a stable code (docs/protocol.md): it travels in a data-plane error reply, and as a
/// grain call's exception (Orleans serializes it with its code), so callers decide by the code.
/// </summary>
[GenerateSerializer]
public sealed class GridException : Exception
{
    public GridException(GridErrorCode code, string message, Exception? inner = null) : base(message, inner) => Code = code;

    [Id(0)]
    public GridErrorCode Code { get; private set; }

    public override string ToString() => $"{Code}: {Message}";
}
