using System.Diagnostics;
using Orleans.Shuffle.FileStore;
using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.FileStore;

/// <summary>The shared primitive of the File providers, on real files: the lock, the atomic replace, bounded waits.</summary>
public sealed class LockedJsonFileTests : IDisposable
{
    private readonly TempDirectory _directory = new("oshuffle-locked-json");

    public void Dispose() => _directory.Dispose();

    private LockedJsonFile<Counter> Open(TimeSpan? lockTimeout = null) =>
        new(_directory.Combine("sub", "counter.json"), () => new Counter(), lockTimeout ?? TimeSpan.FromSeconds(30));

    public sealed class Counter
    {
        public int Value { get; set; }
    }

    [Fact]
    public async Task Concurrent_changes_from_many_handles_are_never_lost()
    {
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var file = Open();
            for (int i = 0; i < 25; i++) await file.UpdateAsync(c => (++c.Value, FileChange.Write));
        })));
        Assert.Equal(200, (await Open().ReadAsync()).Value);
        Assert.Equal(["counter.json", "counter.json.lock"], Directory.EnumerateFiles(_directory.Combine("sub")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_held_lock_is_waited_for_and_then_fails_naming_the_lock_file()
    {
        var file = Open(TimeSpan.FromMilliseconds(300));
        await file.UpdateAsync(c => (0, FileChange.Write));
        // As another process would hold it.
        using (new FileStream(file.LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var started = DateTime.UtcNow;
            var e = await Assert.ThrowsAsync<TimeoutException>(() => file.UpdateAsync(c => (++c.Value, FileChange.Write)));
            Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));
            Assert.Contains(file.LockPath, e.Message);
            // Reads take no lock.
            Assert.Equal(0, (await file.ReadAsync()).Value);
        }
        Assert.Equal(1, await file.UpdateAsync(c => (++c.Value, FileChange.Write)));
    }

    [Fact]
    public async Task A_lock_held_by_another_process_is_released_when_that_process_is_killed()
    {
        var file = Open(TimeSpan.FromMilliseconds(500));
        await file.UpdateAsync(c => (c.Value = 1, FileChange.Write));
        // util-linux flock(1) takes the same flock(2) lock .NET takes, and holds it while its child sleeps.
        var info = new ProcessStartInfo("flock") { UseShellExecute = false, RedirectStandardInput = true };
        foreach (string argument in new[] { "--exclusive", file.LockPath, "sleep", "60" }) info.ArgumentList.Add(argument);
        using var holder = Process.Start(info)!;
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            // Bounded: until the holder has the lock (our change times out) or the deadline.
            while (DateTime.UtcNow < deadline && await TryIncrementAsync(file)) await Task.Delay(50);
            await Assert.ThrowsAsync<TimeoutException>(() => file.UpdateAsync(c => (++c.Value, FileChange.Write)));
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            await holder.WaitForExitAsync();
        }
        int before = (await file.ReadAsync()).Value;
        Assert.Equal(before + 1, await file.UpdateAsync(c => (++c.Value, FileChange.Write)));
    }

    private static async Task<bool> TryIncrementAsync(LockedJsonFile<Counter> file)
    {
        try
        {
            await file.UpdateAsync(c => (++c.Value, FileChange.Write));
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_refused_change_writes_nothing_and_a_deleting_one_removes_the_file()
    {
        var file = Open();
        Assert.Equal(0, await file.UpdateAsync(c => (c.Value, FileChange.None)));
        Assert.False(File.Exists(file.Path));
        await file.UpdateAsync(c => (++c.Value, FileChange.Write));
        await file.UpdateAsync(c => (++c.Value, FileChange.None));
        Assert.Equal(1, (await file.ReadAsync()).Value);
        await file.UpdateAsync(c => (0, FileChange.Delete));
        Assert.False(File.Exists(file.Path));
        Assert.Equal(0, (await file.ReadAsync()).Value);
    }

    [Fact]
    public async Task A_change_that_throws_leaves_the_file_as_it_was()
    {
        var file = Open();
        await file.UpdateAsync(c => (c.Value = 5, FileChange.Write));
        await Assert.ThrowsAsync<InvalidOperationException>(() => file.UpdateAsync<int>(c =>
        {
            c.Value = 6;
            throw new InvalidOperationException("refused");
        }));
        Assert.Equal(5, (await file.ReadAsync()).Value);
        Assert.Equal(6, await file.UpdateAsync(c => (++c.Value, FileChange.Write))); // and the lock was released
    }

    [Theory]
    [InlineData("dev", "dev")]
    [InlineData("cluster-1.prod_a", "cluster-1.prod_a")]
    public void A_plain_cluster_id_names_its_default_directory(string clusterId, string folder) =>
        Assert.Equal(Path.Combine(Path.GetTempPath(), "orleans-shuffle", folder), FileStoreLayout.DefaultDirectory(clusterId));

    [Theory]
    [InlineData("..")]
    [InlineData("../../etc")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("")]
    public void Any_other_cluster_id_is_hashed_into_one_folder_under_the_temp_folder(string clusterId)
    {
        if (clusterId.Length == 0)
        {
            Assert.Throws<ArgumentException>(() => FileStoreLayout.DefaultDirectory(clusterId));
            return;
        }
        string directory = FileStoreLayout.DefaultDirectory(clusterId);
        Assert.Equal(Path.Combine(Path.GetTempPath(), "orleans-shuffle"), Path.GetDirectoryName(directory));
        Assert.Matches("^cluster-[0-9a-f]{32}$", Path.GetFileName(directory));
    }

    [Fact]
    public void Hashed_names_differ_whenever_the_parts_do()
    {
        Assert.NotEqual(FileStoreLayout.Hash("ab", "c"), FileStoreLayout.Hash("a", "bc"));
        Assert.NotEqual(FileStoreLayout.Hash("a", ""), FileStoreLayout.Hash("a"));
        Assert.Equal(FileStoreLayout.Hash("a", "b"), FileStoreLayout.Hash("a", "b"));
        Assert.Matches("^[0-9a-f]{64}$", FileStoreLayout.Hash("../x", "\0"));
    }
}
