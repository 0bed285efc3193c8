namespace Orleans.Shuffle.Job.BenchReport;

/// <summary>
/// The <c>key=value</c> files scripts/bench.sh leaves (sitting.txt, run.txt): one pair a line, the
/// value is the rest of the line after the first '=', so it may hold spaces and '='. Plain text, since
/// bash writes them with printf and nothing to escape.
/// </summary>
internal static class KeyValueFile
{
    public static IReadOnlyDictionary<string, string> Read(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(path))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || line.StartsWith('#')) continue;
            values[line[..equals].Trim()] = line[(equals + 1)..].Trim();
        }
        return values;
    }
}
