using System.Text;
using RdpNla.Tests.Support;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// freerdp-shadow-cli (NLA only) behind a front door, with one front user per scenario: pass-through, mapped
/// credentials, mapped credentials the backend refuses, a backend that is down, a backend whose certificate changed.
/// </summary>
public sealed class ShadowGatewayFixture : IAsyncLifetime
{
    public const string AlicePassword = "Passw0rd!";
    public const string ServicePassword = "Backend-Secret1";
    public const string CarolPassword = "Front-Pass1";

    public GatewayShadowBackend Backend { get; private set; } = null!;

    public TestFrontDoor Door { get; private set; } = null!;

    /// <summary>erin's backend: a port that refuses connections while the fixture lives.</summary>
    public ClosedPort ClosedBackend { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Backend = await GatewayShadowBackend.StartAsync(("alice", AlicePassword), ("svc", ServicePassword));
        Door = await TestFrontDoor.StartAsync(o => o.Gateway.DefaultBackend = Backend.Address);
        using GatewayKey key = GatewayKey.Load(Door.DataDirectory, null, create: true);
        GatewayStore store = Door.Database.Gateway;

        await Door.AddUserAsync("alice", AlicePassword);

        // carol logs in to the gateway with her own password and reaches the backend as svc, whose password she never types.
        await Door.AddUserAsync("carol", CarolPassword);
        await store.SetMappedCredentialAsync("carol", Backend.Address, "svc", string.Empty, Encoding.Unicode.GetBytes(ServicePassword), key);

        await Door.AddUserAsync("dave", CarolPassword);
        await store.SetMappedCredentialAsync("dave", Backend.Address, "svc", string.Empty, Encoding.Unicode.GetBytes("not-the-backend-password"), key);

        ClosedBackend = PeerPorts.HoldClosedPort();
        await Door.AddUserAsync("erin", AlicePassword);
        await store.SetUserBackendAsync("erin", ClosedBackend.Address);

        // frank's backend is the same shadow server under another name, whose recorded certificate is another one.
        await Door.AddUserAsync("frank", AlicePassword);
        await store.AddGroupAsync("moved", $"localhost:{Backend.Proxy.Port}");
        await store.AddMemberAsync("moved", "frank");
        await store.TrustOnFirstUseAsync($"localhost:{Backend.Proxy.Port}", new string('A', 64), "CN=old");
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

        ClosedBackend?.Dispose();
    }
}

/// <summary>xfreerdp → rdpnla serve → freerdp-shadow-cli: the backend leg speaks CredSSP with the injected credentials.</summary>
public class GatewayShadowTests(ShadowGatewayFixture fixture, XvfbDisplay display) : IClassFixture<ShadowGatewayFixture>
{
    private Task<ProcessResult> RunAsync(string user, string password) => Xfreerdp.RunAsync(
        display,
        [$"/v:{fixture.Door.Address}", $"/u:{user}", $"/p:{password}", "/sec:nla", "/cert:ignore", "+auth-only"],
        TestContext.Current.CancellationToken);

    [Fact]
    public async Task PassThrough_SessionOpensWithTheBackendLegSpeakingCredSsp()
    {
        ProcessResult result = await RunAsync("alice", ShadowGatewayFixture.AlicePassword);

        Assert.True(result.ExitCode == 0, $"{result.Output}\n{fixture.Door.LogText}\n{fixture.Backend.Output}");
        Assert.True(result.HasLine("Authentication only, exit status 0"), result.Output);
        Assert.Contains($"Backend {fixture.Backend.Address} accepted the injected credentials of alice (CredSSP version 6)", fixture.Door.LogText);
        GatewaySessionRecord session = await fixture.Door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("HYBRID", session.FrontProtocol);
        Assert.Equal("HYBRID", session.BackendProtocol);
        Assert.Equal("pass-through", session.CredentialMode);
        Assert.Equal("closed", session.Outcome);
        Assert.True(session.BytesToClient > 0 && session.BytesToBackend > 0);
    }

    [Fact]
    public async Task MappedCredentials_UserReachesTheBackendAccountWithAPasswordTheyNeverTyped()
    {
        ProcessResult result = await RunAsync("carol", ShadowGatewayFixture.CarolPassword);

        Assert.True(result.ExitCode == 0, $"{result.Output}\n{fixture.Door.LogText}");
        Assert.Contains("Relaying carol to backend", fixture.Door.LogText);
        Assert.Contains("with mapped credentials for svc", fixture.Door.LogText);
        Assert.Contains($"Backend {fixture.Backend.Address} accepted the injected credentials of svc", fixture.Door.LogText);
        GatewaySessionRecord session = await fixture.Door.WaitForGatewaySessionAsync("carol");
        Assert.Equal("mapped", session.CredentialMode);
        Assert.Equal("svc", session.BackendAccount);
    }

    [Fact]
    public async Task WrongFrontPassword_TheBackendSeesNoTcpConnection()
    {
        int before = fixture.Backend.Proxy.Accepted;
        int rowsBefore = (await fixture.Door.AuditAsync()).Count;

        ProcessResult result = await RunAsync("alice", "wrong-password");

        // The front door writes the audit row as the connection ends: once it is there, the gateway is done with
        // this connection and no backend connection can follow.
        AuditEntry attempt = (await fixture.Door.WaitForAuditAsync(rowsBefore + 1)).Skip(rowsBefore).Single(r => r.UserName == "alice");
        Assert.Equal(AuditOutcome.Failure, attempt.Outcome);
        Assert.Equal(134, result.ExitCode);
        Assert.True(result.HasLine("ERRCONNECT_LOGON_FAILURE"), result.Output);
        Assert.Equal(before, fixture.Backend.Proxy.Accepted);
    }

    [Fact]
    public async Task WrongInjectedPassword_IsLoggedAndTheClientIsDisconnected()
    {
        ProcessResult result = await RunAsync("dave", ShadowGatewayFixture.CarolPassword);

        Assert.False(result.TimedOut, result.Output);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"Backend {fixture.Backend.Address} rejected the injected credentials of svc: the backend closed the connection after the NTLM AUTHENTICATE (wrong user name or password); disconnecting the client", fixture.Door.LogText);
        Assert.Equal("credentials-rejected", (await fixture.Door.WaitForGatewaySessionAsync("dave")).Outcome);
    }

    [Fact]
    public async Task BackendDown_IsLoggedAndTheClientIsDisconnected()
    {
        ProcessResult result = await RunAsync("erin", ShadowGatewayFixture.AlicePassword);

        Assert.False(result.TimedOut, result.Output);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"Backend {fixture.ClosedBackend.Address} is down: TCP connection to {fixture.ClosedBackend.Address} failed: ConnectionRefused", fixture.Door.LogText);
        Assert.Equal("backend-down", (await fixture.Door.WaitForGatewaySessionAsync("erin")).Outcome);
    }

    [Fact]
    public async Task ChangedBackendCertificate_IsLoggedAndTheClientIsDisconnected()
    {
        ProcessResult result = await RunAsync("frank", ShadowGatewayFixture.AlicePassword);

        Assert.False(result.TimedOut, result.Output);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"Backend localhost:{fixture.Backend.Proxy.Port} certificate changed: expected SHA-256 {new string('A', 64)}, got ", fixture.Door.LogText);
        Assert.Equal("certificate-changed", (await fixture.Door.WaitForGatewaySessionAsync("frank")).Outcome);
    }
}
