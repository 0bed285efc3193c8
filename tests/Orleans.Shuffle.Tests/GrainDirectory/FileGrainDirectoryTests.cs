using Orleans.Shuffle.GrainDirectory;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.GrainDirectory;

/// <summary>The conformance suite against the embedded file directory.</summary>
public sealed class FileGrainDirectoryTests : GrainDirectoryTestsBase
{
    private readonly TempDirectory _temp = new("oshuffle-grain-directory");

    protected override Task<IGrainDirectory> CreateDirectoryAsync() => Task.FromResult(OpenSameDirectory());

    protected override IGrainDirectory OpenSameDirectory() => new FileGrainDirectory(_temp.Combine("grain-directory.json"));

    public override Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }
}
