using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// Starts the kernel writing a just-written file range to disk, without waiting for it to finish
/// (see <see cref="StorageOptions.WritebackEachFlush"/>). Linux only; elsewhere it does nothing.
/// </summary>
internal static partial class Writeback
{
    // SYNC_FILE_RANGE_WRITE: submit the range's dirty pages for write-out; no wait before or after.
    private const uint SyncFileRangeWrite = 2;

    private static bool s_unavailable;

    public static void Start(SafeFileHandle file, long offset, long length)
    {
        if (s_unavailable || !OperatingSystem.IsLinux()) return;
        // A refusal is not a failed write: the bytes are in the page cache, and the kernel writes
        // them back later as it always would (and commit's fsync, when asked, syncs them).
        try
        {
            _ = SyncFileRange(file, offset, length, SyncFileRangeWrite);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A libc without the call: an optional hint must never fail the write it follows.
            s_unavailable = true;
        }
    }

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(SafeFileHandle fd, long offset, long nbytes, uint flags);
}
