using System.Diagnostics;

namespace Orleans.Shuffle.Job;

/// <summary>How to start a framework-dependent .NET dll: with the same dotnet host that runs us when possible.</summary>
internal static class DotnetHost
{
    public static string Executable { get; } = FindExecutable();

    public static ProcessStartInfo StartInfo(string dll, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Children must not compete with the driver for the terminal's input.
            RedirectStandardInput = true,
            CreateNoWindow = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        info.ArgumentList.Add(dll);
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        return info;
    }

    private static string FindExecutable()
    {
        // Run as "dotnet Orleans.Shuffle.Job.dll": the host is our own process image.
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            return current;
        // Run through the apphost or a test host: the SDK and hosts export where dotnet lives.
        string? hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath)) return hostPath;
        string? root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root))
        {
            string candidate = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
            if (File.Exists(candidate)) return candidate;
        }
        return "dotnet";
    }
}
