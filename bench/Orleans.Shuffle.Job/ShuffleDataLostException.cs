using System.Globalization;
using System.Text.RegularExpressions;

namespace Orleans.Shuffle.Job;

/// <summary>
/// The grid answered DataLost: no copy of some partitions survived, so the stage that wrote them has
/// to be rerun. The job stops there rather than report a result built on missing data; the message
/// starts with "shuffle data lost:" and names the partitions, so a driver (or a script) can tell
/// this failure from the others and rerun the map stage.
/// </summary>
internal sealed partial class ShuffleDataLostException : Exception
{
    public const string Prefix = "shuffle data lost:";

    private ShuffleDataLostException(string message, IReadOnlyList<int> partitions, Exception? inner)
        : base(message, inner) => Partitions = partitions;

    /// <summary>The lost partitions, as far as the error named them; empty if it named none.</summary>
    public IReadOnlyList<int> Partitions { get; }

    /// <param name="source">Who met the error: "the file group" or a worker's name.</param>
    /// <param name="gridMessage">The grid's DataLost message.</param>
    /// <param name="knownPartitions">Partitions the source knows it was handling.</param>
    public static ShuffleDataLostException Create(string source, string gridMessage, IEnumerable<int> knownPartitions, Exception? inner = null)
    {
        var partitions = knownPartitions.Concat(PartitionsNamedIn(gridMessage)).Distinct().Order().ToList();
        string named = partitions.Count == 0
            ? "partitions the grid did not name"
            : (partitions.Count == 1 ? "partition " : "partitions ") + string.Join(", ", partitions.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        string rerun = gridMessage.Contains("rerun", StringComparison.OrdinalIgnoreCase) ? "" : " Rerun the map stage.";
        return new ShuffleDataLostException($"{Prefix} {named} of shuffle {JobOptions.ShuffleId} ({source}: {gridMessage}){rerun}", partitions, inner);
    }

    /// <summary>
    /// Partition ids in the grid's messages: the ShuffleGrain lists partition epochs as "3-0" after
    /// the word "partitions" (with silos and reasons in parentheses, which are skipped), the reader
    /// says "Partition 3 epoch 0".
    /// </summary>
    internal static IEnumerable<int> PartitionsNamedIn(string message)
    {
        var found = new List<int>();
        foreach (Match match in PartitionEpoch().Matches(message)) found.Add(int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture));
        var list = PartitionsWord().Match(message);
        if (list.Success)
        {
            string rest = WithoutParentheses(message[(list.Index + list.Length)..]);
            foreach (Match match in EpochPair().Matches(rest)) found.Add(int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture));
        }
        return found;
    }

    /// <summary>The text with every parenthesized part (silo endpoints, error messages) removed.</summary>
    private static string WithoutParentheses(string text)
    {
        var kept = new System.Text.StringBuilder(text.Length);
        int depth = 0;
        foreach (char c in text)
        {
            if (c == '(') depth++;
            else if (c == ')') depth = Math.Max(0, depth - 1);
            else if (depth == 0) kept.Append(c);
        }
        return kept.ToString();
    }

    [GeneratedRegex(@"\bpartitions?\s", RegexOptions.IgnoreCase)]
    private static partial Regex PartitionsWord();

    [GeneratedRegex(@"(?<![\w.:-])(\d{1,9})-\d{1,9}(?![\w.:-])")]
    private static partial Regex EpochPair();

    [GeneratedRegex(@"\b[Pp]artition (\d{1,9}) epoch\b")]
    private static partial Regex PartitionEpoch();
}
