using System.Globalization;

namespace Orleans.Shuffle.Job;

/// <summary>
/// Parses and formats byte sizes. "MiB"/"GiB" are powers of 1024, "MB"/"GB" powers of 1000, as the
/// IEC and SI prefixes say; a bare number, or one ending in "B", is bytes. A lone "K", "M", "G" or
/// "T" is read as binary because that is what people typing "--data 512M" almost always mean.
/// </summary>
public static class SizeParser
{
    private static readonly (string Suffix, long Multiplier)[] Units =
    [
        // Longest suffixes first so "MiB" is not taken for "B".
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("KB", 1_000L), ("MB", 1_000_000L), ("GB", 1_000_000_000L), ("TB", 1_000_000_000_000L),
        ("K", 1L << 10), ("M", 1L << 20), ("G", 1L << 30), ("T", 1L << 40),
        ("B", 1L),
    ];

    /// <summary>Parses a size such as "1GiB", "512MiB", "100MB", "1.5GiB" or "1000000".</summary>
    /// <exception cref="FormatException">The text is not a size, or is negative or too large.</exception>
    public static long Parse(string text) =>
        TryParse(text, out long bytes, out string? error) ? bytes : throw new FormatException(error);

    public static bool TryParse(string? text, out long bytes, out string? error)
    {
        bytes = 0;
        error = null;
        string trimmed = text?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            error = "Size is empty.";
            return false;
        }

        long multiplier = 1;
        string number = trimmed;
        foreach (var (suffix, unitMultiplier) in Units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                multiplier = unitMultiplier;
                number = trimmed[..^suffix.Length].TrimEnd();
                break;
            }
        }

        // Integers are parsed exactly; fractions ("1.5GiB") go through decimal so 0.1 does not round oddly.
        if (long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long whole))
        {
            if (whole > long.MaxValue / multiplier)
            {
                error = $"Size '{text}' is too large.";
                return false;
            }
            bytes = whole * multiplier;
            return true;
        }
        if (decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal fraction))
        {
            decimal value = decimal.Floor(fraction * multiplier);
            if (value > long.MaxValue)
            {
                error = $"Size '{text}' is too large.";
                return false;
            }
            bytes = (long)value;
            return true;
        }
        error = $"'{text}' is not a size: use a number of bytes or a number with a unit such as 512MiB, 1GiB or 100MB.";
        return false;
    }

    /// <summary>Formats bytes with a binary unit and one decimal, e.g. "256.0 MiB".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        int unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }
}
