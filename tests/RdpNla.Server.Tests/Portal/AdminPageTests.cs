using Microsoft.Extensions.Time.Testing;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.Gateway;
using RdpNla.Server.Portal;

namespace RdpNla.Tests.Portal;

/// <summary>The admin page's pure parts: the HTML (every value encoded, no secret echoed), the live-session list, the attempt window, the settings.</summary>
public class AdminPageTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AdminPage_EncodesEveryValue_AndNeverEchoesThePasswordOrCode()
    {
        var row = new AuditEntry
        {
            Time = At,
            InstanceName = "node<1>",
            ClientAddress = "192.0.2.7",
            ClientPort = 50123,
            UserName = "<script>alert(1)</script>",
            Domain = "LAB",
            SecurityProtocol = "HYBRID",
            Outcome = AuditOutcome.Failure,
            Status = NtStatus.LogonFailure,
            Reason = "wrong password \"quoted\" & <b>bold</b>",
            ConnectionId = "17",
        };
        var session = new LiveSession("42", "bob<i>", "2001:db8::5", 3390, "xrdp&co:3389", "HYBRID_EX", "SSL", At.AddMinutes(-3), 12_345, 6_789_012, Relaying: true);
        var request = new AdminRequest("admin\"><img src=x>", "S3cret-Passw0rd", "123456", "<u>", "failure", 50);
        var overview = new AdminOverview("node<1>", At, [row], [session], 50, "<u>", AuditOutcome.Failure);

        string html = PortalPages.AdminPage("tok\"en", request, PortalOutcome.Ok("1 audit rows, 1 live sessions"), overview, 200);

        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>bold", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img src=x>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("bob<i>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<u>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("S3cret-Passw0rd", html, StringComparison.Ordinal);
        Assert.DoesNotContain("123456", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("STATUS_LOGON_FAILURE", html, StringComparison.Ordinal);
        Assert.Contains("[2001:db8::5]:3390", html, StringComparison.Ordinal);
        Assert.Contains("192.0.2.7:50123", html, StringComparison.Ordinal);
        Assert.Contains("xrdp&amp;co:3389", html, StringComparison.Ordinal);
        Assert.Contains("6,789,012", html, StringComparison.Ordinal);
        Assert.Contains("2026-03-01 11:57:00", html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"failure\" selected>", html, StringComparison.Ordinal);
        Assert.Contains("value=\"tok&quot;en\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html.Replace("&lt;script", string.Empty, StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AdminPage_Refused_ShowsTheReasonAndNoTables()
    {
        string html = PortalPages.AdminPage("t", new AdminRequest("carol", "pw", null, null, null, null), PortalOutcome.Refused(403, "not-admin", "carol is not an administrator of this portal"), null, 200);

        Assert.Contains("""<p class="error" id="result">carol is not an administrator of this portal</p>""", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"audit\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"sessions\"", html, StringComparison.Ordinal);
        Assert.Contains("value=\"carol\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void LiveSessions_ListsRunningSessionsOldestFirst_ReadAtEachSnapshot_AndForgetsEndedOnes()
    {
        var sessions = new LiveSessions();
        long bytes = 0;
        LiveSession Read(string id, int minutesAgo) => new(id, "u", "127.0.0.1", 1, "b:3389", "HYBRID", null, At.AddMinutes(-minutesAgo), bytes, 0, false);
        using IDisposable newer = sessions.Add(() => Read("2", 1));
        IDisposable older = sessions.Add(() => Read("1", 5));

        Assert.Equal(["1", "2"], sessions.Snapshot().Select(s => s.ConnectionId));
        bytes = 99;
        Assert.All(sessions.Snapshot(), s => Assert.Equal(99, s.BytesToBackend));

        older.Dispose();
        Assert.Equal(["2"], sessions.Snapshot().Select(s => s.ConnectionId));
        Assert.Equal(1, sessions.Count);
    }

    [Fact]
    public void AttemptWindow_RefusesBeyondTheLimit_PerKey_UntilAMinutePassed()
    {
        var time = new FakeTimeProvider(At);
        var window = new AttemptWindow(time, () => 2);

        Assert.True(window.TryCount("a"));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(window.TryCount("a"));
        Assert.False(window.TryCount("a"));
        Assert.True(window.TryCount("b"));

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(window.TryCount("a"));
        Assert.False(window.TryCount("a"));
    }

    [Theory]
    [InlineData(0, 10, "Portal:AdminMaxRows is 0")]
    [InlineData(5001, 10, "Portal:AdminMaxRows is 5001")]
    [InlineData(200, 0, "Portal:AdminAttemptsPerMinute is 0")]
    public void Options_RefuseUnboundedRowsOrAttempts(int rows, int attempts, string problem)
    {
        var options = new PortalOptions { AdminGroup = "admins", AdminMaxRows = rows, AdminAttemptsPerMinute = attempts };

        Assert.Contains(options.Validate(), p => p.StartsWith(problem, StringComparison.Ordinal));
        Assert.True(options.AdminEnabled);
        Assert.False(new PortalOptions { AdminGroup = " " }.AdminEnabled);
    }
}
