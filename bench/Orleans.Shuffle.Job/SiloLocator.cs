namespace Orleans.Shuffle.Job;

/// <summary>
/// Finds the silo executable for a local grid: the repository's own build output, found by
/// walking up from this tool to the directory holding the solution. SHUFFLE_SILO_DLL overrides,
/// e.g. to run a job from a published copy of the tool.
/// </summary>
internal static class SiloLocator
{
    public const string OverrideVariable = "SHUFFLE_SILO_DLL";

    private static readonly string[] SolutionFiles = ["Orleans.Shuffle.sln", "Orleans.Shuffle.slnx"];

    public static string Locate() => Locate(AppContext.BaseDirectory, Environment.GetEnvironmentVariable(OverrideVariable));

    internal static string Locate(string startDirectory, string? overridePath)
    {
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            string full = Path.GetFullPath(overridePath);
            return File.Exists(full)
                ? full
                : throw new FileNotFoundException($"{OverrideVariable} points at {full}, which does not exist.");
        }

        string? repository = FindRepositoryRoot(startDirectory)
            ?? throw new FileNotFoundException(
                $"Could not find the silo: no directory above {startDirectory} holds {SolutionFiles[0]}. " +
                $"Run the tool from the repository's build output, or set {OverrideVariable}.");
        // Release first: a local grid for a benchmark should run optimized silos when they exist.
        foreach (string configuration in new[] { "Release", "Debug" })
        {
            string candidate = Path.Combine(repository, "src", "Silo", "bin", configuration, "net10.0", "Orleans.Shuffle.Silo.dll");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(
            $"Could not find Orleans.Shuffle.Silo.dll under {Path.Combine(repository, "src", "Silo", "bin")}: " +
            $"build the solution first (dotnet build -c Release {SolutionFiles[0]}), or set {OverrideVariable}.");
    }

    internal static string? FindRepositoryRoot(string startDirectory)
    {
        for (var directory = new DirectoryInfo(startDirectory); directory is not null; directory = directory.Parent)
        {
            if (SolutionFiles.Any(name => File.Exists(Path.Combine(directory.FullName, name)))) return directory.FullName;
        }
        return null;
    }
}
