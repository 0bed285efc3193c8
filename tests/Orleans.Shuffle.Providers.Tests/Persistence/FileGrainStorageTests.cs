using System.Text.Json;
using Orleans.Runtime;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Persistence.File;
using Orleans.Shuffle.Providers.Tests.Infrastructure;
using Orleans.Shuffle.Testing;
using Orleans.Storage;

namespace Orleans.Shuffle.Providers.Tests.Persistence;

/// <summary>The conformance suite on the embedded file storage, plus what is particular to it: the files and their names.</summary>
public sealed class FileGrainStorageTests : GrainStorageTestsBase
{
    private const string ServiceId = "service-a";

    private readonly TempDirectory _directory = new("oshuffle-grain-state");

    private FileGrainStorage Open(string name = "files", string serviceId = ServiceId, bool deleteStateOnClear = false) =>
        new(name, new FileGrainStorageOptions { Directory = _directory.Path, GrainStorageSerializer = SiloServices.Serializer, DeleteStateOnClear = deleteStateOnClear },
            clusterId: "cluster-a", serviceId, SiloServices.Activators);

    protected override IGrainStorage OpenStorage() => Open();

    private string StateDirectory => _directory.Combine(FileStoreLayout.GrainStateDirectory);

    private IEnumerable<string> StateFiles => Directory.Exists(StateDirectory) ? Directory.EnumerateFiles(StateDirectory) : [];

    /// <summary>At most the test grain's one file, and no temporary file left behind.</summary>
    protected override Task AssertOnlyCurrentStateStoredAsync()
    {
        var files = StateFiles.ToList();
        Assert.True(files.Count <= 1, string.Join(", ", files));
        Assert.All(files, f => Assert.Equal(((FileGrainStorage)Storage).StateFilePath(StateName, GrainId), f));
        return Task.CompletedTask;
    }

    public override Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_state_is_one_file_named_by_a_hash_that_says_whose_it_is()
    {
        string etag = await WriteAsync(State(100, 1), null);
        string path = Assert.Single(StateFiles);
        Assert.Equal(((FileGrainStorage)Storage).StateFilePath(StateName, GrainId), path);
        Assert.Matches("^[0-9a-f]{64}\\.json$", Path.GetFileName(path));

        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(path));
        var root = json.RootElement;
        Assert.Equal(("files", ServiceId, GrainId.ToString(), StateName, etag),
            (root.GetProperty("Storage").GetString(), root.GetProperty("ServiceId").GetString(), root.GetProperty("GrainId").GetString(),
             root.GetProperty("StateName").GetString(), root.GetProperty("ETag").GetInt64().ToString()));
        Assert.Equal(State(100, 1), SiloServices.Serializer.Deserialize<TestState>(new BinaryData(root.GetProperty("State").GetBytesFromBase64())));
    }

    [Fact]
    public async Task Names_that_look_like_paths_never_reach_the_file_system_as_paths()
    {
        var grain = GrainId.Create("shuffle-grain", "../../../etc/passwd");
        var storage = Open(name: "../x");
        await storage.WriteStateAsync("..\\..\\state/name", grain, Written(State(10, 1)));
        Assert.Equal(State(10, 1), (await ReadAsync(storage, "..\\..\\state/name", grain)).State);
        string path = Assert.Single(StateFiles);
        Assert.Equal(StateDirectory, Path.GetDirectoryName(path));
        Assert.Equal([_directory.Combine(FileStoreLayout.GrainStateDirectory)], Directory.EnumerateDirectories(_directory.Path));
    }

    [Fact]
    public async Task Storages_and_services_sharing_the_directory_are_kept_apart()
    {
        await WriteAsync(State(10, 1), null);
        Assert.False((await ReadAsync(Open(name: "other"))).RecordExists);
        Assert.False((await ReadAsync(Open(serviceId: "service-b"))).RecordExists);
        await Open(name: "other").WriteStateAsync(StateName, GrainId, Written(State(10, 2)));
        Assert.Equal(State(10, 1), (await ReadAsync()).State);
        Assert.Equal(2, StateFiles.Count());
    }

    [Fact]
    public async Task With_DeleteStateOnClear_a_clear_deletes_the_file()
    {
        var storage = Open(deleteStateOnClear: true);
        var state = Written(State(10, 1));
        await storage.WriteStateAsync(StateName, GrainId, state);
        await storage.ClearStateAsync(StateName, GrainId, state);
        Assert.Null(state.ETag);
        Assert.Empty(StateFiles);
        Assert.False((await ReadAsync(storage)).RecordExists);
        await WriteAsync(State(10, 2), null, storage);
    }
}
