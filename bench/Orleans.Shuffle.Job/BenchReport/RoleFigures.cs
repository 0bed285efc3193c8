namespace Orleans.Shuffle.Job.BenchReport;

/// <summary>A figure per role of scripts/cpu-by-role.sh (executor, silo, driver) and their total; a role that did not run is 0.</summary>
internal sealed record RoleFigures(double Executor, double Silo, double Driver)
{
    public double Total => Executor + Silo + Driver;

    public RoleFigures Per(double units) => new(Executor / units, Silo / units, Driver / units);
}

/// <summary>
/// What scripts/cpu-by-role.sh printed at the end of a run (its stderr, cpu.log):
/// <c>cpu &lt;role&gt; &lt;seconds&gt; &lt;processes&gt;</c> and <c>rss &lt;role&gt; &lt;peak_sum_kib&gt; &lt;max_hwm_kib&gt;</c>.
/// The job's own stderr shares the file; only lines of exactly that shape count, the last of each role winning.
/// </summary>
internal sealed record CpuLog(RoleFigures CpuSeconds, IReadOnlyDictionary<string, (long PeakSumKiB, long MaxHwmKiB)> Rss, bool Complete)
{
    public static CpuLog Parse(IEnumerable<string> lines)
    {
        var cpu = new Dictionary<string, double>(StringComparer.Ordinal);
        var rss = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 4 || !IsRole(fields[1])) continue;
            if (fields[0] == "cpu" && double.TryParse(fields[2], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds))
                cpu[fields[1]] = seconds;
            else if (fields[0] == "rss" && long.TryParse(fields[2], out long sum) && long.TryParse(fields[3], out long hwm))
                rss[fields[1]] = (sum, hwm);
        }
        var figures = new RoleFigures(cpu.GetValueOrDefault("executor"), cpu.GetValueOrDefault("silo"), cpu.GetValueOrDefault("driver"));
        // The driver is always there when cpu-by-role.sh got to its end; without it, the run was cut off.
        return new CpuLog(figures, rss, cpu.ContainsKey("driver"));
    }

    private static bool IsRole(string role) => role is "executor" or "silo" or "driver";
}
