using Microsoft.Extensions.Time.Testing;
using Orleans.Shuffle.Silo.DataPlane;

namespace Orleans.Shuffle.Tests.Transport;

public sealed class ConnectionDeadlineTests
{
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public void A_deadline_fires_when_its_time_passes_and_re_arming_moves_it()
    {
        using var deadline = new ConnectionDeadline(_clock, () => false);
        deadline.Arm(DeadlineKind.Frame, TimeSpan.FromSeconds(10));
        _clock.Advance(TimeSpan.FromSeconds(9));
        deadline.Arm(DeadlineKind.Frame, TimeSpan.FromSeconds(10));
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(deadline.Expired.IsCancellationRequested);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(deadline.Expired.IsCancellationRequested);
        Assert.Equal(DeadlineKind.Frame, deadline.Kind);
    }

    [Fact]
    public void Time_spent_handling_a_frame_does_not_count_and_the_time_left_runs_on_after()
    {
        using var deadline = new ConnectionDeadline(_clock, () => false);
        deadline.Arm(DeadlineKind.Frame, TimeSpan.FromSeconds(5));
        _clock.Advance(TimeSpan.FromSeconds(3));
        deadline.Pause();
        _clock.Advance(TimeSpan.FromSeconds(60));
        deadline.Resume();
        // 2 s were left when the clock stopped: not a moment more.
        _clock.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(deadline.Expired.IsCancellationRequested);
        _clock.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(deadline.Expired.IsCancellationRequested);
        Assert.Equal(DeadlineKind.Frame, deadline.Kind);
    }

    [Fact]
    public void A_deadline_armed_while_paused_starts_when_the_clock_runs_again()
    {
        using var deadline = new ConnectionDeadline(_clock, () => false);
        deadline.Arm(DeadlineKind.Idle, TimeSpan.FromSeconds(5));
        deadline.Pause();
        deadline.Arm(DeadlineKind.Frame, TimeSpan.FromSeconds(4));
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.False(deadline.Expired.IsCancellationRequested);
        deadline.Resume();
        _clock.Advance(TimeSpan.FromSeconds(3.9));
        Assert.False(deadline.Expired.IsCancellationRequested);
        _clock.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(deadline.Expired.IsCancellationRequested);
        Assert.Equal(DeadlineKind.Frame, deadline.Kind);
    }

    [Fact]
    public void An_idle_deadline_waits_again_while_requests_are_in_flight_but_a_frame_deadline_does_not()
    {
        bool inFlight = true;
        using var idle = new ConnectionDeadline(_clock, () => inFlight);
        using var frame = new ConnectionDeadline(_clock, () => inFlight);
        idle.Arm(DeadlineKind.Idle, TimeSpan.FromSeconds(5));
        frame.Arm(DeadlineKind.Frame, TimeSpan.FromSeconds(5));
        _clock.Advance(TimeSpan.FromSeconds(6));
        Assert.False(idle.Expired.IsCancellationRequested);
        Assert.True(frame.Expired.IsCancellationRequested);

        inFlight = false;
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(idle.Expired.IsCancellationRequested);
        Assert.Equal(DeadlineKind.Idle, idle.Kind);
    }
}
