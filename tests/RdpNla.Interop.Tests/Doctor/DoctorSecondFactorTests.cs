using RdpNla.Client;
using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Live;
using RdpNla.Diagnosis.Model;
using RdpNla.Tests.Portal;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Doctor;

/// <summary>
/// The live walk against a front door that holds the connection for a second factor (docs/portal.md): nobody approves
/// it, and doctor names the cause.
/// </summary>
public class DoctorSecondFactorTests
{
    [Fact]
    public async Task Walk_ApprovalTimesOutOnTheServer_NamesSecondFactorNotApproved()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(o => o.Mfa.ApprovalTimeout = TimeSpan.FromSeconds(5));
        await PortalTestSupport.EnrolAsync(door, "slowdoc", PortalFixture.Password);
        using var credentials = new NlaCredentials("slowdoc", string.Empty, PortalFixture.Password);

        DoctorReport report = await LiveWalker.RunAsync("127.0.0.1", door.Port, ClientSettings.WindowsDefault, credentials, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(("second-factor-not-approved", 17), (report.Label, report.ExitCode));
        Assert.Contains("Early User Authorization Result AUTHZ_ACCESS_DENIED", report.Evidence[0], StringComparison.Ordinal);
        Assert.Contains("Mfa:ApprovalTimeout", report.Evidence[0], StringComparison.Ordinal);
        Server.Audit.AuditEntry audited = await door.LastAuditAsync(r => r.UserName == "slowdoc" && r.Outcome == Server.Audit.AuditOutcome.Refused);
        Assert.StartsWith("second factor not approved within 5 s (Mfa:ApprovalTimeout)", audited.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Walk_HeldLongerThanDoctorWaits_NamesSecondFactorNotApproved()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync();
        await PortalTestSupport.EnrolAsync(door, "heldoc", PortalFixture.Password);
        using var credentials = new NlaCredentials("heldoc", string.Empty, PortalFixture.Password);

        DoctorReport report = await LiveWalker.RunAsync("127.0.0.1", door.Port, ClientSettings.WindowsDefault, credentials, TimeSpan.FromSeconds(6), TestContext.Current.CancellationToken);

        Assert.Equal("second-factor-not-approved", report.Label);
        Assert.Contains("held the connection without an Early User Authorization Result for the 6 s doctor waited", report.Evidence[0], StringComparison.Ordinal);
    }
}
