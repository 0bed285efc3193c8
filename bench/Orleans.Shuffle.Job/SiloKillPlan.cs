using System.Globalization;

namespace Orleans.Shuffle.Job;

/// <summary>When --kill-silo strikes.</summary>
internal enum KillStage
{
    /// <summary>During the map stage, a silo that does not host the application's ShuffleGrain.</summary>
    Map,

    /// <summary>During the reduce stage, a silo that does not host the application's ShuffleGrain.</summary>
    Reduce,

    /// <summary>The silo hosting the ShuffleGrain, after the map stage and before the reduce stage.</summary>
    Grain,
}

/// <summary>A parsed --kill-silo value: "map:F", "reduce:F" (F a fraction of the stage, 0 to 1) or "grain".</summary>
internal sealed record SiloKillPlan(KillStage Stage, double Fraction)
{
    public const string Syntax = "map:F, reduce:F (F a fraction from 0 to 1, e.g. map:0.5) or grain";

    public static SiloKillPlan Parse(string text)
    {
        string trimmed = text.Trim();
        if (trimmed.Equals("grain", StringComparison.OrdinalIgnoreCase)) return new SiloKillPlan(KillStage.Grain, 1.0);
        int colon = trimmed.IndexOf(':');
        string stage = colon < 0 ? trimmed : trimmed[..colon];
        KillStage? parsed = stage.ToLowerInvariant() switch
        {
            "map" => KillStage.Map,
            "reduce" => KillStage.Reduce,
            _ => null,
        };
        if (parsed is null || colon < 0)
            throw new FormatException($"'{text}' is not a kill point: use {Syntax}.");
        if (!double.TryParse(trimmed.AsSpan(colon + 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double fraction)
            || fraction is < 0 or > 1)
            throw new FormatException($"'{text}': the fraction after '{stage}:' must be a number from 0 to 1.");
        return new SiloKillPlan(parsed.Value, fraction);
    }

    public override string ToString() => Stage == KillStage.Grain
        ? "grain"
        : string.Create(CultureInfo.InvariantCulture, $"{Stage.ToString().ToLowerInvariant()}:{Fraction:0.###}");
}
