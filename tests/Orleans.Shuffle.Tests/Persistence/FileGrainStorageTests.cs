using Orleans.Shuffle.Persistence;
using Orleans.Shuffle.Tests.Infrastructure;

namespace Orleans.Shuffle.Tests.Persistence;

/// <summary>The conformance suite against the embedded file storage.</summary>
public sealed class FileGrainStorageTests : GrainStorageTestsBase
{
    private readonly TempDirectory _temp = new("oshuffle-grain-state");

    protected override Task<IGrainStorage> CreateStorageAsync() => Task.FromResult(OpenSameStorage());

    protected override IGrainStorage OpenSameStorage() => new FileGrainStorage(_temp.Combine("grain-state"));

    public override Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }
}
