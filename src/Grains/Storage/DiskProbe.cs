namespace Orleans.Shuffle.Grains.Storage;

/// <summary>
/// Whether a storage directory works now: it is created, a small file in it is written, fsynced and
/// deleted. A read-only mount, a path that is a regular file, a full disk or a failing device fails
/// it with the system's own message. Checking that the directory exists is not enough: a read-only
/// filesystem lists and opens fine and fails only the first write, after the silo has advertised
/// its slots.
/// </summary>
public static class DiskProbe
{
    /// <summary>The probe file's name; one per silo process, so silos sharing a disk do not race on it.</summary>
    public static string FileName => $".disk-check-{Environment.ProcessId}";

    private static readonly byte[] Content = new byte[4096];

    /// <summary>Null when <paramref name="root"/> passed; otherwise what failed.</summary>
    public static string? Run(string root)
    {
        try
        {
            Directory.CreateDirectory(root);
            string path = Path.Combine(root, FileName);
            try
            {
                using var file = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
                RandomAccess.Write(file, Content, 0);
                RandomAccess.FlushToDisk(file);
            }
            finally
            {
                File.Delete(path);
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    /// <summary>Bytes the silo may still write to the filesystem of <paramref name="root"/>.</summary>
    public static long AvailableBytes(string root)
    {
        try
        {
            return new DriveInfo(root).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return 0;
        }
    }
}
