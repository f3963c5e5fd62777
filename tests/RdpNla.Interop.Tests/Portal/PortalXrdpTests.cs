using System.Diagnostics;
using System.Text;
using OpenQA.Selenium;
using RdpNla.Tests.Gateway;
using RdpNla.Tests.Support;
using RdpNla.Server.Audit;

namespace RdpNla.Tests.Portal;

/// <summary>xrdp behind a front door with its portal; the user enrols an authenticator in Chromium first.</summary>
public sealed class PortalXrdpFixture : XrdpGatewayFixture
{
    protected override void Configure(Server.FrontDoor.FrontDoorOptions options) => options.Portal.Listen = "127.0.0.1:0";
}

/// <summary>
/// The second factor end to end: the user enrols in headless Chromium (QR code page), an administrator requires the
/// second factor (<c>rdpnla users require-mfa</c>), xfreerdp's connection is held after CredSSP without the backend
/// being contacted, the user approves it in Chromium with a current code, and xfreerdp reaches the xrdp desktop
/// through the gateway.
/// </summary>
[Collection(GatewayXrdpCollection.Name)]
public class PortalXrdpTests(PortalXrdpFixture fixture) : IClassFixture<PortalXrdpFixture>
{
    [Fact]
    public async Task MfaUser_XfreerdpWaitsUntilChromiumApproves_ThenReachesTheXrdpDesktop()
    {
        TestFrontDoor door = fixture.Door;
        string user = fixture.Backend.UserName;
        using HeadlessChromium browser = HeadlessChromium.Start();

        browser.Open(door.PortalUrl() + "totp");
        browser.Fill("user", user);
        browser.Fill("password", fixture.Backend.Password);
        browser.Submit();
        string qr = browser.Driver.FindElement(By.Id("qr")).GetAttribute("src") ?? string.Empty;
        Assert.StartsWith("data:image/png;base64,", qr, StringComparison.Ordinal);
        browser.Screenshot("portal-totp.png");
        var app = TestAuthenticator.FromUri(browser.Text("otpauth"));
        browser.Fill("password", fixture.Backend.Password);
        browser.Fill("code", app.NextCode());
        browser.Submit();
        Assert.Equal($"The authenticator of {user} is enrolled.", browser.Text("result"));

        Accounts.CliResult required = await Accounts.Cli.RunAsync(["users", "require-mfa", user, "--data", door.DataDirectory]);
        Assert.True(required.ExitCode == 0, required.Output + required.Error);

        var output = new StringBuilder();
        (FrameBufferXvfb xvfb, Process client) = await GatewayPeers.StartXfreerdpSessionAsync(door.Address, user, fixture.Backend.Password, output);
        try
        {
            Server.Mfa.PendingConnection pending = await door.WaitForPendingAsync(user, () => GatewayPeers.Snapshot(output));
            Assert.Equal(fixture.Backend.Address, pending.Backend);
            // Held: no backend contacted, no session started.
            Assert.DoesNotContain($"Session started successfully for user {user}", fixture.Backend.SesmanLog, StringComparison.Ordinal);
            Assert.False(client.HasExited, GatewayPeers.Snapshot(output));

            browser.Open(door.PortalUrl() + "approve?user=" + user);
            string table = browser.Driver.FindElement(By.Id("pending")).Text;
            Assert.Contains("127.0.0.1", table, StringComparison.Ordinal);
            Assert.Contains(fixture.Backend.Address, table, StringComparison.Ordinal);
            browser.Screenshot("portal-approve.png");
            browser.Fill("code", app.NextCode());
            browser.Submit();
            Assert.Equal($"Approved the connection from 127.0.0.1 to {fixture.Backend.Address}.", browser.Text("result"));
            browser.Screenshot("portal-approved.png");

            string started = $"Session started successfully for user {user}";
            Assert.True(
                await fixture.Backend.WaitForSesmanLineAsync(started, TimeSpan.FromSeconds(45)),
                $"sesman:\n{fixture.Backend.SesmanLog}\nxfreerdp:\n{GatewayPeers.Snapshot(output)}\ngateway:\n{door.LogText}");

            int colors = await XwdScreenshot.CaptureDesktopAsync(xvfb.Directory, "portal-mfa-xrdp-session.png");
            Assert.True(colors >= 2, $"the client window is blank ({colors} colours)");
            Assert.False(client.HasExited, GatewayPeers.Snapshot(output));
        }
        finally
        {
            await ExternalProcess.StopAsync(client);
            await xvfb.DisposeAsync();
        }

        IReadOnlyList<AuditEntry> rows = await door.AuditAsync();
        Assert.Contains(rows, r => r.UserName == user && r.SecurityProtocol == "HYBRID" && r.Outcome == AuditOutcome.Success && r.Reason == "authenticated with NTLM; password verified");
        Assert.Contains(rows, r => r.SecurityProtocol == "PORTAL" && r.Reason.StartsWith($"portal connection ", StringComparison.Ordinal) && r.Reason.EndsWith(" approved", StringComparison.Ordinal));
        Assert.Contains($"Second factor for {user}: second factor approved on the portal", door.LogText, StringComparison.Ordinal);
    }
}
