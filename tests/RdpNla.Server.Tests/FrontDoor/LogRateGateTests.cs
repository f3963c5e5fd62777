using Microsoft.Extensions.Time.Testing;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.FrontDoor;

public sealed class LogRateGateTests
{
    [Fact]
    public void TryPass_ABurstOfFaults_FirstPassesThenOnePerIntervalCountingTheHeldBack()
    {
        var time = new FakeTimeProvider();
        var gate = new LogRateGate(TimeSpan.FromSeconds(10), time);

        var passed = new List<int>();
        for (int second = 0; second < 25; second++)
        {
            for (int i = 0; i < 4; i++)
            {
                if (gate.TryPass(out int held))
                {
                    passed.Add(held);
                }
            }

            time.Advance(TimeSpan.FromSeconds(1));
        }

        // 100 faults over 25 s: lines at 0 s, 10 s and 20 s; the later ones count the 39 held back before each.
        Assert.Equal([0, 39, 39], passed);
    }

    [Fact]
    public void Recovered_AfterFaults_ReportsThemOnceAndTheNextFaultPassesAtOnce()
    {
        var time = new FakeTimeProvider();
        var gate = new LogRateGate(TimeSpan.FromSeconds(10), time);
        Assert.Equal(0, gate.Recovered());
        Assert.True(gate.TryPass(out _));
        Assert.False(gate.TryPass(out _));
        Assert.False(gate.TryPass(out _));

        Assert.Equal(3, gate.Recovered());
        Assert.Equal(0, gate.Recovered());
        Assert.True(gate.TryPass(out int held));
        Assert.Equal(0, held);
    }
}
