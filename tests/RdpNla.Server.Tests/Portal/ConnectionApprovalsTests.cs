using System.Net;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Server.Mfa;

namespace RdpNla.Tests.Portal;

/// <summary>The held connections: oldest first, bounded per user, timed out on the (fake) clock.</summary>
public class ConnectionApprovalsTests
{
    [Fact]
    public async Task Wait_ResolvesOldestFirst_RefusesBeyondTheCap_AndTimesOutOnTheClock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var approvals = new ConnectionApprovals(time, maxPerUser: 2);
        var first = new PendingConnection(1, "alice", new IPEndPoint(IPAddress.Loopback, 1000), time.GetUtcNow(), "backend:3389");
        PendingConnection second = first with { ConnectionId = 2 };
        CancellationToken token = TestContext.Current.CancellationToken;

        Task<ApprovalOutcome> a = approvals.WaitAsync(first, TimeSpan.FromSeconds(60), token);
        Task<ApprovalOutcome> b = approvals.WaitAsync(second, TimeSpan.FromSeconds(60), token);
        Assert.Equal(ApprovalOutcome.TooManyPending, await approvals.WaitAsync(first with { ConnectionId = 3 }, TimeSpan.FromSeconds(60), token));
        Assert.Equal([1L, 2L], approvals.Pending("ALICE").Select(p => p.ConnectionId));
        Assert.Empty(approvals.Pending("bob"));

        Assert.Equal(1, approvals.ResolveOldest("alice", approve: true)!.ConnectionId);
        Assert.Equal(ApprovalOutcome.Approved, await a);
        Assert.Equal([2L], approvals.Pending("alice").Select(p => p.ConnectionId));

        time.Advance(TimeSpan.FromSeconds(59));
        Assert.False(b.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ApprovalOutcome.TimedOut, await b);
        Assert.Empty(approvals.Pending("alice"));
        Assert.Null(approvals.ResolveOldest("alice", approve: true));
    }

    [Fact]
    public async Task ResolveOldest_Deny_EndsTheWaitAsDenied()
    {
        var approvals = new ConnectionApprovals(new FakeTimeProvider(), maxPerUser: 4);
        Task<ApprovalOutcome> wait = approvals.WaitAsync(new PendingConnection(7, "bob", new IPEndPoint(IPAddress.Loopback, 1), DateTimeOffset.UnixEpoch, "b"), TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(7, approvals.ResolveOldest("BOB", approve: false)!.ConnectionId);
        Assert.Equal(ApprovalOutcome.Denied, await wait);
    }
}
