namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>Where the repository and the build outputs of this test run are.</summary>
public static class RepoPaths
{
    public const string SolutionFile = "Orleans.Shuffle.sln";

    /// <summary>The directory holding Orleans.Shuffle.sln, found by walking up from the test assembly.</summary>
    public static string Root { get; } = FindRoot(AppContext.BaseDirectory);

    /// <summary>The build configuration of this test assembly (Debug or Release), read off its output path (bin/{Configuration}/net10.0).</summary>
    public static string Configuration { get; } = FindConfiguration(AppContext.BaseDirectory);

    public static string JobDll => Path.Combine(Root, "bench", "Orleans.Shuffle.Job", "bin", Configuration, "net10.0", "Orleans.Shuffle.Job.dll");

    public static string SiloDll => Path.Combine(Root, "src", "Silo", "bin", Configuration, "net10.0", "Orleans.Shuffle.Silo.dll");

    internal static string FindRoot(string start)
    {
        // Bounded by the depth of the directory tree.
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFile))) return directory.FullName;
        }
        throw new InvalidOperationException($"No directory above {start} holds {SolutionFile}.");
    }

    internal static string FindConfiguration(string baseDirectory)
    {
        // .../bin/{Configuration}/{tfm}/
        var tfm = new DirectoryInfo(baseDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        var configuration = tfm.Parent;
        if (configuration?.Parent?.Name != "bin")
            throw new InvalidOperationException($"The test assembly's directory {baseDirectory} is not bin/<Configuration>/<tfm>.");
        return configuration.Name;
    }

    /// <summary>The dotnet host that runs this test process, or the one the SDK names, or the one on PATH.</summary>
    public static string DotnetExecutable()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) return current;
        string? hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath)) return hostPath;
        string? root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
        return "dotnet";
    }
}
