using Orleans.Runtime;

namespace Orleans.Shuffle.Providers.Tests.Hosting;

/// <summary>A grain that keeps a count in grain storage and can hold a reminder: what the silo tests drive.</summary>
public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> Increment();

    Task<int> Get();

    /// <summary>The silo the activation runs on.</summary>
    Task<SiloAddress> Silo();

    Task RegisterReminder(string name);
}

[GenerateSerializer]
public sealed class CounterState
{
    [Id(0)]
    public int Count { get; set; }
}

public sealed class CounterGrain([PersistentState("counter")] IPersistentState<CounterState> counter, ILocalSiloDetails silo) : Grain, ICounterGrain, IRemindable
{
    public async Task<int> Increment()
    {
        counter.State.Count++;
        await counter.WriteStateAsync();
        return counter.State.Count;
    }

    public Task<int> Get() => Task.FromResult(counter.State.Count);

    public Task<SiloAddress> Silo() => Task.FromResult(silo.SiloAddress);

    public Task RegisterReminder(string name) => this.RegisterOrUpdateReminder(name, TimeSpan.FromHours(1), TimeSpan.FromHours(1));

    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;
}
