using System.Globalization;
using System.Text;

namespace Orleans.Shuffle.Job.BenchReport;

/// <summary>bench.svg: one bar per run, throughput in MB/s, grouped by round and coloured by kind; hand-written SVG, no library.</summary>
internal static class BenchChart
{
    private const int BarWidth = 26;
    private const int BarGap = 4;
    private const int GroupGap = 22;
    private const int Left = 60;
    private const int Top = 40;
    private const int PlotHeight = 240;
    private const int Bottom = 60;
    private static readonly string[] Colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2"];

    public static string Render(IReadOnlyList<BenchRun> runs, IReadOnlyList<string> kinds, string title)
    {
        var c = CultureInfo.InvariantCulture;
        var rounds = runs.Select(r => r.Run).Distinct().Order().ToList();
        int groupWidth = kinds.Count * (BarWidth + BarGap) - BarGap;
        // At least wide enough for the title and the note under the plot.
        int width = Math.Max(600, Left + rounds.Count * (groupWidth + GroupGap) + 20 + 150);
        int height = Top + PlotHeight + Bottom;
        double top = NiceCeiling(runs.Count == 0 ? 1 : runs.Max(r => r.ThroughputMBps));

        var svg = new StringBuilder();
        svg.Append(c, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(c, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(c, $"<text x=\"{Left}\" y=\"20\" font-size=\"14\">{Escape(title)}</text>\n");
        for (int tick = 0; tick <= 4; tick++)
        {
            double value = top * tick / 4;
            double y = Top + PlotHeight - PlotHeight * tick / 4.0;
            svg.Append(c, $"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{width - 150}\" y2=\"{y:0.#}\" stroke=\"#ddd\"/>\n");
            svg.Append(c, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{value:0.#}</text>\n");
        }
        svg.Append(c, $"<text x=\"14\" y=\"{Top + PlotHeight / 2}\" transform=\"rotate(-90 14 {Top + PlotHeight / 2})\" text-anchor=\"middle\">MB/s</text>\n");

        for (int g = 0; g < rounds.Count; g++)
        {
            int groupX = Left + 10 + g * (groupWidth + GroupGap);
            for (int k = 0; k < kinds.Count; k++)
            {
                var run = runs.FirstOrDefault(r => r.Run == rounds[g] && r.Kind == kinds[k]);
                if (run is null) continue;
                int x = groupX + k * (BarWidth + BarGap);
                double barHeight = run.Counts ? PlotHeight * run.ThroughputMBps / top : 0;
                double y = Top + PlotHeight - barHeight;
                svg.Append(c, $"<rect x=\"{x}\" y=\"{y:0.#}\" width=\"{BarWidth}\" height=\"{barHeight:0.#}\" fill=\"{Colours[k % Colours.Length]}\">");
                svg.Append(c, $"<title>{Escape(run.Kind)} run {run.Run}: {run.ThroughputMBps:0.0} MB/s</title></rect>\n");
                // A failed run has no bar; an x says it ran and did not count.
                string label = run.Counts ? run.ThroughputMBps.ToString("0", c) : "x";
                svg.Append(c, $"<text x=\"{x + BarWidth / 2}\" y=\"{y - 3:0.#}\" text-anchor=\"middle\">{label}</text>\n");
            }
            svg.Append(c, $"<text x=\"{groupX + groupWidth / 2}\" y=\"{Top + PlotHeight + 16}\" text-anchor=\"middle\">run {rounds[g]}</text>\n");
        }
        svg.Append(c, $"<line x1=\"{Left}\" y1=\"{Top + PlotHeight}\" x2=\"{width - 150}\" y2=\"{Top + PlotHeight}\" stroke=\"black\"/>\n");

        for (int k = 0; k < kinds.Count; k++)
        {
            int y = Top + 10 + k * 18;
            svg.Append(c, $"<rect x=\"{width - 130}\" y=\"{y - 9}\" width=\"12\" height=\"12\" fill=\"{Colours[k % Colours.Length]}\"/>");
            svg.Append(c, $"<text x=\"{width - 112}\" y=\"{y + 1}\">{Escape(kinds[k])}</text>\n");
        }
        svg.Append(c, $"<text x=\"{Left}\" y=\"{height - 16}\" fill=\"#555\">record bytes / (map + reduce seconds); x = the run did not verify or was cut off</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>A round axis top above <paramref name="value"/>: 1, 2 or 5 times a power of ten.</summary>
    internal static double NiceCeiling(double value)
    {
        if (value <= 0 || double.IsNaN(value)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (double step in (ReadOnlySpan<double>)[1, 2, 5, 10])
        {
            if (step * power >= value * 1.05) return step * power;
        }
        return 10 * power;
    }

    private static string Escape(string text) => System.Security.SecurityElement.Escape(text);
}
