using OpenQA.Selenium;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.Portal;

namespace RdpNla.Tests.Portal;

/// <summary>A front door with its portal: a must-change user, and a user who must approve connections (enrolled).</summary>
public sealed class PortalFixture : IAsyncLifetime
{
    public const string Password = "Old-Passw0rd";

    public TestFrontDoor Door { get; private set; } = null!;

    public TestAuthenticator MfaApp { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Door = await PortalTestSupport.StartAsync();
        await Door.AddUserAsync("mustchange", Password, a => a with { MustChangePassword = true });
        MfaApp = await PortalTestSupport.EnrolAsync(Door, "mfauser", Password);
    }

    public async ValueTask DisposeAsync() => await Door.DisposeAsync();
}

/// <summary>
/// The portal in headless Chromium (Debian's chromium and chromedriver, through Selenium) together with xfreerdp: the
/// must-change user's way back in, and connections held for the second factor.
/// </summary>
public class PortalBrowserTests(PortalFixture fixture, XvfbDisplay display) : IClassFixture<PortalFixture>
{
    private const string NlaCompleted = "rdp_client_transition_to_state CONNECTION_STATE_NLA --> CONNECTION_STATE_MCS_CONNECT";

    private Task<ProcessResult> XfreerdpAsync(TestFrontDoor door, string user, string password) => Xfreerdp.RunAsync(
        display,
        [$"/v:{door.Address}", "/cert:ignore", "+auth-only", "/log-level:DEBUG", $"/u:{user}", $"/p:{password}", "/sec:nla"],
        TestContext.Current.CancellationToken,
        TimeSpan.FromSeconds(90));

    [Fact]
    public async Task MustChangeUser_FailsNla_ChangesThePasswordInChromium_ThenCompletesNla()
    {
        TestFrontDoor door = fixture.Door;
        ProcessResult refused = await XfreerdpAsync(door, "mustchange", PortalFixture.Password);
        Assert.Equal(149, refused.ExitCode);
        Assert.True(refused.HasLine("SPNEGO received NTSTATUS: STATUS_PASSWORD_MUST_CHANGE [0xC0000224] from server"), refused.Output);
        AuditEntry failure = await door.LastAuditAsync(r => r.UserName == "mustchange");
        Assert.Equal(NtStatus.PasswordMustChange, failure.Status);
        Assert.EndsWith($"; change it at {door.PortalUrl()}password", failure.Reason, StringComparison.Ordinal);
        Assert.Contains($"change it at {door.PortalUrl()}password", door.LogText, StringComparison.Ordinal);

        using (HeadlessChromium browser = HeadlessChromium.Start())
        {
            browser.Open(door.PortalUrl());
            Assert.Equal("Self-service", browser.Driver.FindElement(By.TagName("h1")).Text);
            browser.Screenshot("portal-index.png");

            browser.Open(door.PortalUrl() + "password");
            browser.Fill("user", "mustchange");
            browser.Fill("oldPassword", PortalFixture.Password);
            browser.Fill("newPassword", "Brand-N3w-Pass");
            browser.Fill("confirmPassword", "Brand-N3w-Pass");
            browser.Submit();
            Assert.Equal("The password of mustchange was changed.", browser.Text("result"));
            browser.Screenshot("portal-password.png");
        }

        ProcessResult oldPassword = await XfreerdpAsync(door, "mustchange", PortalFixture.Password);
        ProcessResult newPassword = await XfreerdpAsync(door, "mustchange", "Brand-N3w-Pass");
        Assert.True(oldPassword.HasLine("STATUS_LOGON_FAILURE"), oldPassword.Output);
        Assert.True(newPassword.HasLine("NLA.authInfo (length = "), newPassword.Output);
        Assert.True(newPassword.HasLine(NlaCompleted), newPassword.Output);
        Assert.Contains(await door.AuditAsync(), r => r.UserName == "mustchange" && r.Reason == "portal password changed" && r.Outcome == AuditOutcome.Success);
    }

    [Fact]
    public async Task MfaUser_WrongCodeInChromium_DeniesTheHeldConnection_AndIsAudited()
    {
        TestFrontDoor door = fixture.Door;
        Task<ProcessResult> client = XfreerdpAsync(door, "mfauser", PortalFixture.Password);
        Server.Mfa.PendingConnection pending = await door.WaitForPendingAsync("mfauser");
        Assert.Equal("127.0.0.1", pending.Client.Address.ToString());

        using (HeadlessChromium browser = HeadlessChromium.Start())
        {
            browser.Open(door.PortalUrl() + "approve?user=mfauser");
            Assert.Contains("127.0.0.1", browser.Driver.FindElement(By.Id("pending")).Text, StringComparison.Ordinal);
            browser.Fill("code", fixture.MfaApp.WrongCode());
            browser.Submit();
            Assert.Equal("the code is wrong or not current", browser.Text("result"));
        }

        ProcessResult result = await client;
        Assert.False(result.TimedOut, result.Output);
        Assert.True(result.HasLine("NLA.authInfo (length = "), result.Output);
        Assert.NotEqual(0, result.ExitCode);
        IReadOnlyList<AuditEntry> rows = await door.AuditAsync();
        AuditEntry connection = await door.LastAuditAsync(r => r.UserName == "mfauser" && r.SecurityProtocol == "HYBRID");
        Assert.Equal(AuditOutcome.Refused, connection.Outcome);
        Assert.Equal("second factor denied: a wrong code was entered on the portal (connection closed)", connection.Reason);
        Assert.Contains(rows, r => r.SecurityProtocol == "PORTAL" && r.Outcome == AuditOutcome.Failure && r.Reason == "portal connection approval: wrong code");
        Assert.Contains(rows, r => r.SecurityProtocol == "PORTAL" && r.Reason.EndsWith("denied: wrong code", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MfaUser_NotApprovedInTime_TheConnectionIsClosedAndAudited()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(o => o.Mfa.ApprovalTimeout = TimeSpan.FromSeconds(5));
        await PortalTestSupport.EnrolAsync(door, "slowuser", PortalFixture.Password);

        ProcessResult result = await XfreerdpAsync(door, "slowuser", PortalFixture.Password);

        Assert.False(result.TimedOut, result.Output);
        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.HasLine("NLA.authInfo (length = "), result.Output);
        AuditEntry connection = await door.LastAuditAsync(r => r.UserName == "slowuser" && r.SecurityProtocol == "HYBRID");
        Assert.Equal(AuditOutcome.Refused, connection.Outcome);
        Assert.Equal(NtStatus.AccessDenied, connection.Status);
        Assert.StartsWith("second factor not approved within 5 s (Mfa:ApprovalTimeout)", connection.Reason, StringComparison.Ordinal);
        Assert.Empty(door.Host.SecondFactor!.Approvals.Pending("slowuser"));
    }

    [Fact]
    public async Task RdpnlaLogin_HybridEx_SaysItWaits_ThenApprovedSucceeds_WrongCodeGetsAccessDenied()
    {
        TestFrontDoor door = fixture.Door;
        using HttpClient api = door.Client();

        Task<Accounts.CliResult> approved = Client.ClientCli.LoginAsync(door.Address, "mfauser", PortalFixture.Password, "--timeout", "60");
        Server.Mfa.PendingConnection pending = await door.WaitForPendingAsync("mfauser");
        // The client says it waits once the Early User Authorization Result is 2 s late; approve after that.
        while (DateTimeOffset.UtcNow - pending.Since < TimeSpan.FromSeconds(3))
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        (int status, System.Text.Json.JsonElement body) = await api.PostJsonAsync("api/approve", new { user = "mfauser", code = fixture.MfaApp.NextCode() });
        Assert.Equal(200, status);
        Assert.Equal("127.0.0.1", body.GetProperty("connection").GetProperty("clientAddress").GetString());
        Accounts.CliResult success = await approved;
        Assert.True(success.ExitCode == 0, success.Output + success.Error);
        Assert.Contains("password verified; waiting for approval", success.Error, StringComparison.Ordinal);
        Assert.Contains("AUTHZ_SUCCESS", success.Output, StringComparison.Ordinal);

        Task<Accounts.CliResult> denied = Client.ClientCli.LoginAsync(door.Address, "mfauser", PortalFixture.Password, "--timeout", "60");
        await door.WaitForPendingAsync("mfauser");
        (int wrong, System.Text.Json.JsonElement wrongBody) = await api.PostJsonAsync("api/approve", new { user = "mfauser", code = fixture.MfaApp.WrongCode() });
        Assert.Equal((401, "wrong-code"), (wrong, wrongBody.GetProperty("error").GetString()));
        Accounts.CliResult refused = await denied;
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("AUTHZ_ACCESS_DENIED", refused.Output, StringComparison.Ordinal);
        AuditEntry row = await door.LastAuditAsync(r => r.UserName == "mfauser" && r.SecurityProtocol == "HYBRID_EX" && r.Outcome == AuditOutcome.Refused);
        Assert.Equal("second factor denied: a wrong code was entered on the portal (Early User Authorization Result AUTHZ_ACCESS_DENIED)", row.Reason);
    }

    [Fact]
    public async Task Hold_OutlastsTheHandshakeDeadline_AndTheMinimumDataRate()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(o =>
        {
            o.Limits.HandshakeTimeout = TimeSpan.FromSeconds(4);
            o.Limits.MinDataRateGracePeriod = TimeSpan.FromSeconds(1);
        });
        TestAuthenticator app = await PortalTestSupport.EnrolAsync(door, "patient", PortalFixture.Password);

        Task<Accounts.CliResult> login = Client.ClientCli.LoginAsync(door.Address, "patient", PortalFixture.Password, "--timeout", "60");
        Server.Mfa.PendingConnection pending = await door.WaitForPendingAsync("patient");
        // Held past the whole handshake's deadline (and far below the minimum data rate) before the approval.
        while (DateTimeOffset.UtcNow - pending.Since < TimeSpan.FromSeconds(6))
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        using HttpClient api = door.Client();
        (int status, _) = await api.PostJsonAsync("api/approve", new { user = "patient", code = app.NextCode() });
        Accounts.CliResult result = await login;

        Assert.Equal(200, status);
        Assert.True(result.ExitCode == 0, result.Output + result.Error + door.LogText);
        Assert.Contains("AUTHZ_SUCCESS", result.Output, StringComparison.Ordinal);
        AuditEntry row = await door.LastAuditAsync(r => r.UserName == "patient" && r.SecurityProtocol == "HYBRID_EX");
        Assert.Equal(AuditOutcome.Success, row.Outcome);
    }
}
