using System.Diagnostics;
using System.Text;
using RdpNla.Tests.Support;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>xrdp's sesman must listen on the port of /etc/xrdp/sesman.ini: xrdp tests run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GatewayXrdpCollection
{
    public const string Name = "gateway-xrdp";
}

/// <summary>xrdp (TLS, PAM users) behind an in-process front door whose default backend it is.</summary>
public class XrdpGatewayFixture : IAsyncLifetime
{
    public GatewayXrdpBackend Backend { get; private set; } = null!;

    public TestFrontDoor Door { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Backend = await GatewayXrdpBackend.StartAsync();
        Door = await TestFrontDoor.StartAsync(o =>
        {
            o.Gateway.DefaultBackend = Backend.Address;
            Configure(o);
        });

        // xrdp is a TLS-only backend: the password goes in the Client Info PDU, which the operator declares explicitly.
        await Door.Database.Gateway.SetBackendSecurityAsync(Backend.Address, BackendSecurity.Tls);
        await Door.AddUserAsync(Backend.UserName, Backend.Password);
        await Door.AddUserAsync(Backend.SecondUserName, Backend.Password);
    }

    /// <summary>More front door settings of a derived fixture.</summary>
    protected virtual void Configure(Server.FrontDoor.FrontDoorOptions options)
    {
    }

    public async ValueTask DisposeAsync()
    {
        if (Door is not null)
        {
            await Door.DisposeAsync();
        }

        if (Backend is not null)
        {
            await Backend.DisposeAsync();
        }
    }
}

/// <summary>
/// xfreerdp (NLA) → rdpnla serve → xrdp (TLS): the gateway authenticates the user with CredSSP, connects to xrdp with
/// TLS, and injects the delegated credentials into the Client Info PDU (INFO_AUTOLOGON); xrdp logs the user on with PAM.
/// </summary>
[Collection(GatewayXrdpCollection.Name)]
public class GatewayXrdpTests(XrdpGatewayFixture fixture, XvfbDisplay display) : IClassFixture<XrdpGatewayFixture>
{
    [Fact]
    public async Task Xfreerdp_ThroughGateway_OpensAnXrdpDesktopWithInjectedCredentials()
    {
        var output = new StringBuilder();
        (FrameBufferXvfb xvfb, Process client) = await GatewayPeers.StartXfreerdpSessionAsync(fixture.Door.Address, fixture.Backend.UserName, fixture.Backend.Password, output);
        try
        {
            string started = $"Session started successfully for user {fixture.Backend.UserName}";
            Assert.True(
                await fixture.Backend.WaitForSesmanLineAsync(started, TimeSpan.FromSeconds(45)),
                $"sesman:\n{fixture.Backend.SesmanLog}\nxfreerdp:\n{GatewayPeers.Snapshot(output)}\ngateway:\n{fixture.Door.LogText}");
            Assert.Contains($"Injected the credentials of {fixture.Backend.UserName} into the Client Info PDU (INFO_AUTOLOGON)", fixture.Door.LogText);

            // Let the desktop (an xterm without a window manager, docs/interop.md#xrdp) reach the client's window, then screenshot it.
            int colors = await XwdScreenshot.CaptureDesktopAsync(xvfb.Directory, "gateway-xrdp-session.png");
            Assert.True(colors >= 2, $"the client window is blank ({colors} colours)");
            Assert.False(client.HasExited, GatewayPeers.Snapshot(output));
        }
        finally
        {
            await ExternalProcess.StopAsync(client);
            await xvfb.DisposeAsync();
        }

        GatewaySessionRecord session = await fixture.Door.WaitForGatewaySessionAsync(fixture.Backend.UserName);
        Assert.Equal("HYBRID", session.FrontProtocol);
        Assert.Equal("SSL", session.BackendProtocol);
        Assert.Equal("pass-through", session.CredentialMode);
        Assert.Equal("closed", session.Outcome);
        Assert.True(session.BytesToClient > 1_000, $"{session.BytesToClient} bytes to the client");
        Assert.True(session.BytesToBackend > 1_000, $"{session.BytesToBackend} bytes to the backend");
    }

    [Fact]
    public async Task XfreerdpAuthOnly_ThroughGateway_RightPasswordExits0WrongPasswordFails()
    {
        ProcessResult right = await Xfreerdp.RunAsync(
            display,
            [$"/v:{fixture.Door.Address}", $"/u:{fixture.Backend.SecondUserName}", $"/p:{fixture.Backend.Password}", "/sec:nla", "/cert:ignore", "+auth-only"],
            TestContext.Current.CancellationToken);
        ProcessResult wrong = await Xfreerdp.RunAsync(
            display,
            [$"/v:{fixture.Door.Address}", $"/u:{fixture.Backend.SecondUserName}", "/p:not-the-password", "/sec:nla", "/cert:ignore", "+auth-only"],
            TestContext.Current.CancellationToken);

        Assert.True(right.ExitCode == 0, $"{right.Output}\n{fixture.Door.LogText}");
        Assert.True(right.HasLine("Authentication only, exit status 0"), right.Output);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.False(wrong.TimedOut);
        Assert.True(wrong.HasLine("ERRCONNECT_LOGON_FAILURE"), wrong.Output);
    }
}
