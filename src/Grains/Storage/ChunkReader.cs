using Microsoft.Win32.SafeHandles;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// One chunk of a committed partition file, read in place. It holds a reference on the file's
/// handle, so a partition deleted while its chunk is being sent keeps the handle open until
/// <see cref="Dispose"/>; reads are at offsets within the chunk.
/// </summary>
public sealed class ChunkReader : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly long _fileOffset;
    private int _released;

    internal ChunkReader(SafeFileHandle handle, long fileOffset, int length)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        _handle = handle;
        _fileOffset = fileOffset;
        Length = length;
    }

    public int Length { get; }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/> bytes into the chunk.</summary>
    public void ReadExactly(Span<byte> destination, int offset)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _released) != 0, this);
        if (offset < 0 || destination.Length > Length - offset) throw new ArgumentOutOfRangeException(nameof(offset));
        PartitionFileWriter.ReadExactly(_handle, destination, _fileOffset + offset);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) _handle.DangerousRelease();
    }
}
