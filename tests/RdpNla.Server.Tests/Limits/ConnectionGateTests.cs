using System.Net;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Server.FrontDoor;
using RdpNla.Server.Limits;

namespace RdpNla.Tests.Limits;

public class ConnectionGateTests
{
    private static readonly IPAddress s_a = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress s_b = IPAddress.Parse("192.0.2.2");

    private static ConnectionGate Gate(FrontDoorLimits limits, FakeTimeProvider? clock = null, double random = 0.99) =>
        new(limits, clock ?? new FakeTimeProvider(DateTimeOffset.UtcNow), () => random);

    [Fact]
    public void TryEnter_AtTheTotalCap_RefusesUntilOneLeaves()
    {
        ConnectionGate gate = Gate(new FrontDoorLimits { MaxUnauthenticatedConnections = 2, RandomEarlyDropStart = 0 });

        Assert.Null(gate.TryEnter());
        Assert.Null(gate.TryEnter());
        Assert.Equal(RejectionReason.TotalUnauthenticated, gate.TryEnter());
        gate.Leave();
        Assert.Null(gate.TryEnter());
    }

    [Theory]
    [InlineData(0.29, 10, true)] // at start: rate 30 % — a draw below it drops
    [InlineData(0.31, 10, false)]
    [InlineData(0.64, 15, true)] // halfway to full: 30 % + 70 % / 2 = 65 %
    [InlineData(0.66, 15, false)]
    [InlineData(0.99, 9, false)] // below start: never dropped
    public void TryEnter_BetweenStartAndFull_DropsWithLinearlyRisingProbability(double draw, int alreadyIn, bool dropped)
    {
        var limits = new FrontDoorLimits { MaxUnauthenticatedConnections = 20, RandomEarlyDropStart = 10, RandomEarlyDropRate = 0.3 };

        // Enter alreadyIn connections (draws from the start on never drop), then the draw under test.
        var counting = new ConnectionGate(limits, new FakeTimeProvider(), new Queue<double>(Enumerable.Repeat(1.0, Math.Max(0, alreadyIn - 10)).Append(draw)).Dequeue);
        for (int i = 0; i < alreadyIn; i++)
        {
            Assert.Null(counting.TryEnter());
        }

        Assert.Equal(dropped ? RejectionReason.RandomEarlyDrop : null, counting.TryEnter());
    }

    [Fact]
    public void TryAdmitSource_PerAddressAndPerPrefixCaps_CountSeparatelyAndRelease()
    {
        ConnectionGate gate = Gate(new FrontDoorLimits { MaxUnauthenticatedConnectionsPerAddress = 2, MaxUnauthenticatedConnectionsPerPrefix = 3, MaxConnectionRatePerAddress = 0 });

        Assert.Null(gate.TryAdmitSource(s_a));
        Assert.Null(gate.TryAdmitSource(s_a));
        Assert.Equal(RejectionReason.PerAddress, gate.TryAdmitSource(s_a));
        Assert.Null(gate.TryAdmitSource(s_b));                       // same /24, third in the prefix
        Assert.Equal(RejectionReason.PerPrefix, gate.TryAdmitSource(IPAddress.Parse("192.0.2.200")));
        Assert.Null(gate.TryAdmitSource(IPAddress.Parse("198.51.100.1"))); // another /24
        gate.ReleaseSource(s_a);
        Assert.Null(gate.TryAdmitSource(IPAddress.Parse("::ffff:192.0.2.1"))); // IPv4-mapped counts as the IPv4 address
        Assert.Equal(RejectionReason.PerAddress, gate.TryAdmitSource(s_a));
    }

    [Fact]
    public void TryAdmitSource_FasterThanTheConnectionRate_IsRefusedUntilTokensRefill()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        ConnectionGate gate = Gate(new FrontDoorLimits { MaxConnectionRatePerAddress = 2, ConnectionRateBurst = 3, MaxUnauthenticatedConnectionsPerAddress = 100 }, clock);

        for (int i = 0; i < 3; i++)
        {
            Assert.Null(gate.TryAdmitSource(s_a));
            gate.ReleaseSource(s_a);
        }

        Assert.Equal(RejectionReason.ConnectionRate, gate.TryAdmitSource(s_a));
        Assert.Null(gate.TryAdmitSource(s_b)); // other addresses have their own bucket
        clock.Advance(TimeSpan.FromSeconds(0.5)); // one token at 2/s
        Assert.Null(gate.TryAdmitSource(s_a));
        Assert.Equal(RejectionReason.ConnectionRate, gate.TryAdmitSource(s_a));
    }

    [Fact]
    public void Penalize_AccruedPastTheThreshold_BlocksThenDecays()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var limits = new FrontDoorLimits { PenaltyThreshold = TimeSpan.FromSeconds(6), PenaltyMaximum = TimeSpan.FromSeconds(20), MaxConnectionRatePerAddress = 0 };
        ConnectionGate gate = Gate(limits, clock);

        Assert.False(gate.Penalize(s_a, TimeSpan.FromSeconds(2)));
        Assert.False(gate.Penalize(s_a, TimeSpan.FromSeconds(2)));
        Assert.Null(gate.TryAdmitSource(s_a));
        gate.ReleaseSource(s_a);
        Assert.True(gate.Penalize(s_a, TimeSpan.FromSeconds(2))); // 6 s accrued: blocked for 6 s
        Assert.Equal(RejectionReason.Penalty, gate.TryAdmitSource(s_a));
        Assert.Null(gate.TryAdmitSource(s_b));
        gate.ReleaseSource(s_b);

        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Null(gate.TryAdmitSource(s_a));
        gate.ReleaseSource(s_a);

        // Repeated failures grow the penalty up to the maximum, not beyond.
        for (int i = 0; i < 50; i++)
        {
            gate.Penalize(s_a, TimeSpan.FromSeconds(10));
        }

        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromSeconds(20), gate.BlockedSources()[s_a]);
    }

    [Fact]
    public void Penalize_ExemptNetworkOrDisabled_NeverBlocks()
    {
        ConnectionGate exempt = Gate(new FrontDoorLimits { PenaltyThreshold = TimeSpan.FromSeconds(1), PenaltyExempt = ["192.0.2.0/24"] });
        ConnectionGate disabled = Gate(new FrontDoorLimits { PenaltyThreshold = TimeSpan.FromSeconds(1), PenaltiesEnabled = false });

        Assert.False(exempt.Penalize(s_a, TimeSpan.FromMinutes(1)));
        Assert.False(disabled.Penalize(s_a, TimeSpan.FromMinutes(1)));
        Assert.Null(exempt.TryAdmitSource(s_a));
        Assert.Null(disabled.TryAdmitSource(s_a));
    }
}
