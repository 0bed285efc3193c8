using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace Orleans.Shuffle.Grains.Placement;

/// <summary>
/// The slot reports a placement director works from: asked of each silo's <see cref="IStorageSiloService"/>
/// on demand and kept for <see cref="SlotPlacementOptions.SlotReportMaxAge"/>, one request per silo at a
/// time however many placements wait for it. Placements this director made since a report was asked
/// for are subtracted from it, so a burst of placements (a shuffle registering a thousand partitions)
/// fills silos evenly instead of all landing on the silo that looked emptiest.
/// </summary>
internal sealed class SlotReportCache(IStorageSiloServiceClient client, IOptions<SlotPlacementOptions> options)
{
    private readonly ConcurrentDictionary<SiloAddress, SiloSlots> _silos = new();

    private readonly Lock _choosing = new();

    /// <summary>
    /// The healthy slots of <paramref name="silos"/> together, from their reports (reused while young,
    /// each fetch bounded; a silo that does not answer counts none): for the ShuffleGrain's quota.
    /// </summary>
    public async Task<long> TotalSlotsAsync(IReadOnlyCollection<SiloAddress> silos)
    {
        var reports = await Task.WhenAll(silos.Select(silo =>
            _silos.GetOrAdd(silo, static _ => new SiloSlots()).GetAsync(silo, client, options.Value, refetch: false))).ConfigureAwait(false);
        return reports.Sum(r => (long)(r?.TotalSlots ?? 0));
    }

    /// <summary>
    /// Places one copy: fetches (or reuses) the reports of <paramref name="silos"/>, then, one placement
    /// at a time so that concurrent placements see each other's choices, lets <paramref name="choose"/>
    /// pick among the silos that answered (with their free slots less this director's placements since
    /// their report) and counts the pick. A cached view that leaves no choice is asked again fresh
    /// before the answer is none: slots freed since (a deleted shuffle) count. <paramref name="fresh"/>
    /// asks the silos again from the start. Null when there is none.
    /// </summary>
    public async Task<SiloAddress?> PlaceAsync(IReadOnlyCollection<SiloAddress> silos, bool fresh, Func<IReadOnlyList<SiloLoad>, SiloAddress?> choose)
    {
        for (int round = 0; ; round++)
        {
            fresh |= round > 0;
            var reports = await Task.WhenAll(silos.Select(async silo =>
            {
                var slots = _silos.GetOrAdd(silo, static _ => new SiloSlots());
                return (Silo: silo, Slots: slots, Report: await slots.GetAsync(silo, client, options.Value, fresh).ConfigureAwait(false));
            })).ConfigureAwait(false);
            lock (_choosing)
            {
                var loads = reports.Where(r => r.Report is not null).Select(r => new SiloLoad(r.Silo, r.Report!, r.Slots.EffectiveFree(r.Report!))).ToList();
                var choice = choose(loads);
                if (choice is not null) _silos.GetOrAdd(choice, static _ => new SiloSlots()).CountPlacement();
                if (choice is not null || fresh) return choice;
            }
        }
    }

    /// <summary>How long after a silo's report failed to come (its timeout counts too) it is left out of placements without being asked.</summary>
    internal static readonly TimeSpan FailedReportBackoff = TimeSpan.FromSeconds(5);

    private sealed class SiloSlots
    {
        private readonly Lock _lock = new();
        private Task<SlotReport?>? _fetch;
        private long _fetchStarted;
        private long _placed;
        private long _placedAtFetch;

        public void CountPlacement() => Interlocked.Increment(ref _placed);

        public int EffectiveFree(SlotReport report)
        {
            long since = Interlocked.Read(ref _placed) - Interlocked.Read(ref _placedAtFetch);
            return (int)Math.Max(0, report.FreeSlots - since);
        }

        /// <param name="refetch">Ask the silo again even if the cached report is young (a fetch under way is joined).</param>
        public Task<SlotReport?> GetAsync(SiloAddress silo, IStorageSiloServiceClient client, SlotPlacementOptions options, bool refetch)
        {
            lock (_lock)
            {
                bool fresh = _fetch is not null && (!_fetch.IsCompleted || (!refetch && Stopwatch.GetElapsedTime(_fetchStarted) <= options.SlotReportMaxAge));
                // A failed fetch (a silo that did not answer in time, hung or gone) is not asked again for a
                // while, refetch or not: else every placement would wait out its timeout again.
                if (_fetch is { IsCompleted: true, Result: null }) fresh = Stopwatch.GetElapsedTime(_fetchStarted) <= options.SlotReportTimeout + FailedReportBackoff;
                if (!fresh)
                {
                    _fetchStarted = Stopwatch.GetTimestamp();
                    Interlocked.Exchange(ref _placedAtFetch, Interlocked.Read(ref _placed));
                    _fetch = FetchAsync(silo, client, options.SlotReportTimeout);
                }
                return _fetch!;
            }
        }

        private static async Task<SlotReport?> FetchAsync(SiloAddress silo, IStorageSiloServiceClient client, TimeSpan timeout)
        {
            try
            {
                return await client.GetSlotReport(silo).WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (Exception)
            {
                return null; // unreachable or too slow now: not a candidate for this placement
            }
        }
    }
}

/// <summary>A silo's slot report, and the free slots a placement may count on.</summary>
internal readonly record struct SiloLoad(SiloAddress Silo, SlotReport Report, int EffectiveFree);
