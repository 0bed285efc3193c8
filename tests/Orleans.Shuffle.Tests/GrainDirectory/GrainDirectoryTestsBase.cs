using Orleans.Shuffle.GrainDirectory;

namespace Orleans.Shuffle.Tests.GrainDirectory;

/// <summary>
/// Conformance tests of <see cref="IGrainDirectory"/>, written against the interface only, so every
/// implementation (the file, DynamoDB) runs the same ones: derive and create a directory.
/// </summary>
public abstract class GrainDirectoryTestsBase : IAsyncLifetime
{
    /// <summary>A new, empty directory.</summary>
    protected abstract Task<IGrainDirectory> CreateDirectoryAsync();

    /// <summary>A second handle on the same directory (another silo's view), for concurrency tests.</summary>
    protected abstract IGrainDirectory OpenSameDirectory();

    protected IGrainDirectory Directory { get; private set; } = null!;

    private readonly string _prefix = "app-" + Guid.NewGuid().ToString("N")[..8];

    protected string Grain(string name = "a") => $"{_prefix}-{name}";

    protected static string Silo(int n) => $"10.0.0.{n}-11111-{1000 + n}";

    public virtual async Task InitializeAsync() => Directory = await CreateDirectoryAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task An_unknown_grain_has_no_registration()
    {
        Assert.Null(await Directory.Lookup(Grain()));
    }

    [Fact]
    public async Task The_first_registration_wins_and_later_ones_get_it_back()
    {
        var first = new GrainAddress(Grain(), Silo(1));
        Assert.Equal(first, await Directory.Register(first, null));
        Assert.Equal(first, await OpenSameDirectory().Register(new GrainAddress(Grain(), Silo(2)), null));
        Assert.Equal(first, await Directory.Lookup(Grain()));
        Assert.Equal(first, await OpenSameDirectory().Lookup(Grain()));

        // Registering again from the same silo is harmless.
        Assert.Equal(first, await Directory.Register(first, null));
    }

    [Fact]
    public async Task Of_concurrent_registrations_exactly_one_wins_and_all_agree()
    {
        const int Silos = 8;
        var directories = Enumerable.Range(1, Silos).Select(_ => OpenSameDirectory()).ToList();
        using var start = new ManualResetEventSlim();
        var tasks = directories.Select((directory, i) => Task.Run(async () =>
        {
            start.Wait();
            return await directory.Register(new GrainAddress(Grain(), Silo(i + 1)), null);
        })).ToList();
        start.Set();
        var winners = await Task.WhenAll(tasks);
        var winner = Assert.Single(winners.Distinct());
        Assert.Equal(winner, await Directory.Lookup(Grain()));
    }

    [Fact]
    public async Task A_registration_naming_the_dead_previous_one_replaces_it()
    {
        var dead = new GrainAddress(Grain(), Silo(1));
        await Directory.Register(dead, null);
        var replacement = new GrainAddress(Grain(), Silo(2));
        Assert.Equal(replacement, await OpenSameDirectory().Register(replacement, dead));
        Assert.Equal(replacement, await Directory.Lookup(Grain()));

        // A third silo that still believes the first one holds it gets the replacement back.
        Assert.Equal(replacement, await Directory.Register(new GrainAddress(Grain(), Silo(3)), dead));
    }

    [Fact]
    public async Task Of_concurrent_replacements_of_a_dead_registration_exactly_one_wins()
    {
        var dead = new GrainAddress(Grain(), Silo(1));
        await Directory.Register(dead, null);
        var tasks = Enumerable.Range(2, 6).Select(n => OpenSameDirectory().Register(new GrainAddress(Grain(), Silo(n)), dead)).ToList();
        var winners = await Task.WhenAll(tasks);
        var winner = Assert.Single(winners.Distinct());
        Assert.NotEqual(dead, winner);
        Assert.Equal(winner, await Directory.Lookup(Grain()));
    }

    [Fact]
    public async Task A_registration_naming_a_previous_one_registers_when_there_is_none()
    {
        var address = new GrainAddress(Grain(), Silo(2));
        Assert.Equal(address, await Directory.Register(address, new GrainAddress(Grain(), Silo(1))));
        Assert.Equal(address, await Directory.Lookup(Grain()));
    }

    [Fact]
    public async Task A_silo_unregisters_only_its_own_registration()
    {
        var owner = new GrainAddress(Grain(), Silo(1));
        await Directory.Register(owner, null);
        await OpenSameDirectory().Unregister(new GrainAddress(Grain(), Silo(2)));
        Assert.Equal(owner, await Directory.Lookup(Grain()));
        await Directory.Unregister(new GrainAddress(Grain("unknown"), Silo(1)));

        await Directory.Unregister(owner);
        Assert.Null(await Directory.Lookup(Grain()));
        await Directory.Unregister(owner);

        // Free again: the next registration wins.
        var next = new GrainAddress(Grain(), Silo(2));
        Assert.Equal(next, await Directory.Register(next, null));
    }

    [Fact]
    public async Task UnregisterSilos_removes_every_registration_of_those_silos_and_no_other()
    {
        var registrations = new[]
        {
            new GrainAddress(Grain("a"), Silo(1)),
            new GrainAddress(Grain("b"), Silo(1)),
            new GrainAddress(Grain("c"), Silo(2)),
            new GrainAddress(Grain("d"), Silo(3)),
            new GrainAddress(Grain("e"), Silo(13)),
        };
        foreach (var address in registrations) await Directory.Register(address, null);

        await OpenSameDirectory().UnregisterSilos([Silo(1), Silo(2), Silo(99)]);
        Assert.Null(await Directory.Lookup(Grain("a")));
        Assert.Null(await Directory.Lookup(Grain("b")));
        Assert.Null(await Directory.Lookup(Grain("c")));
        Assert.Equal(registrations[3], await Directory.Lookup(Grain("d")));
        Assert.Equal(registrations[4], await Directory.Lookup(Grain("e")));

        await Directory.UnregisterSilos([]);
        Assert.Equal(registrations[3], await Directory.Lookup(Grain("d")));

        // Their grains can be registered elsewhere now.
        var moved = new GrainAddress(Grain("a"), Silo(3));
        Assert.Equal(moved, await Directory.Register(moved, null));
    }

    [Fact]
    public async Task UnregisterSilos_handles_many_registrations()
    {
        var addresses = Enumerable.Range(0, 60).Select(i => new GrainAddress(Grain($"g{i}"), Silo(1 + i % 3))).ToList();
        await Task.WhenAll(addresses.Select(a => OpenSameDirectory().Register(a, null)));
        await Directory.UnregisterSilos([Silo(1), Silo(2)]);
        foreach (var address in addresses)
        {
            var found = await Directory.Lookup(address.GrainId);
            if (address.SiloIdentity == Silo(3)) Assert.Equal(address, found);
            else Assert.Null(found);
        }
    }
}
