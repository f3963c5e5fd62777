using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.FrontDoor;

public class PhaseDeadlineTests
{
    [Fact]
    public void PauseAndResume_AfterThePhaseEnded_TouchNoDisposedTimer()
    {
        // The connection pauses its clocks around every database call, also after its last phase ended.
        var time = new FakeTimeProvider();
        var deadline = new PhaseDeadline(TimeSpan.FromSeconds(5), time, CancellationToken.None);
        deadline.Dispose();
        int thread = Environment.CurrentManagedThreadId;
        var thrown = new List<Exception>();
        void Record(object? sender, FirstChanceExceptionEventArgs e)
        {
            if (Environment.CurrentManagedThreadId == thread)
            {
                thrown.Add(e.Exception);
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Record;
        try
        {
            deadline.Pause();
            deadline.Resume();
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Record;
        }

        Assert.Empty(thrown);
    }

    [Fact]
    public void Pause_StopsThePhaseClock_UntilResume()
    {
        var time = new FakeTimeProvider();
        using var deadline = new PhaseDeadline(TimeSpan.FromSeconds(5), time, CancellationToken.None);

        deadline.Pause();
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(deadline.Expired);

        deadline.Resume();
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(deadline.Expired);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(deadline.Expired);
    }
}
