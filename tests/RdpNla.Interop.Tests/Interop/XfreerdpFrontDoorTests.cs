using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Server.Audit;

namespace RdpNla.Tests.Interop;

/// <summary>One front door with one user per account state, shared by the xfreerdp tests of a class.</summary>
public sealed class FrontDoorWithAccounts : IAsyncLifetime
{
    public const string Password = "Passw0rd!";

    public TestFrontDoor Door { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Door = await TestFrontDoor.StartAsync();
        await Door.AddUserAsync("alice", Password);
        await Door.AddUserAsync("locked", Password, a => a with { LockedUntil = DateTimeOffset.MaxValue });
        await Door.AddUserAsync("disabled", Password, a => a with { Disabled = true });
        await Door.AddUserAsync("expired", Password, a => a with { PasswordExpired = true });
        await Door.AddUserAsync("mustchange", Password, a => a with { MustChangePassword = true });
        await Door.AddUserAsync("denied", Password, a => a with { RemoteLogonDenied = true });
    }

    public async ValueTask DisposeAsync() => await Door.DisposeAsync();

    /// <summary>The audit row of the connection from the client's last run (the newest row for that user).</summary>
    public Task<AuditEntry> LastAuditForAsync(string user) => Door.LastAuditForAsync(user);
}

/// <summary>
/// FreeRDP 2.11's xfreerdp against `rdpnla serve`. The lines matched here are what xfreerdp 2.11.7 prints (recorded in
/// docs/serve.md). `+auth-only` does not stop after CredSSP (docs/interop.md#xfreerdp): with the right password xfreerdp sends the
/// credentials (NLA.authInfo), moves to CONNECTION_STATE_MCS_CONNECT, and fails only because the front door has no
/// backend and closes after MCS Connect Initial.
/// </summary>
public class XfreerdpFrontDoorTests(FrontDoorWithAccounts server, XvfbDisplay display) : IClassFixture<FrontDoorWithAccounts>
{
    private const string NlaCompleted = "rdp_client_transition_to_state CONNECTION_STATE_NLA --> CONNECTION_STATE_MCS_CONNECT";

    private Task<ProcessResult> RunAsync(params string[] arguments) => Xfreerdp.RunAsync(
        display,
        [$"/v:{server.Door.Address}", "/cert:ignore", "+auth-only", "/log-level:DEBUG", .. arguments],
        TestContext.Current.CancellationToken);

    [Theory]
    [InlineData("/u:alice")]
    [InlineData("/u:alice", "/d:LAB")]
    [InlineData("/u:LAB\\alice")]
    [InlineData("/u:alice@LAB")]
    public async Task Xfreerdp_RightPassword_CompletesCredSspAndIsAudited(params string[] user)
    {
        ProcessResult result = await RunAsync([.. user, $"/p:{FrontDoorWithAccounts.Password}", "/sec:nla"]);

        Assert.True(result.HasLine("NLA.authInfo (length = "), result.Output);
        Assert.True(result.HasLine(NlaCompleted), result.Output);
        Assert.True(result.HasLine("CredSSP protocol support 6, peer supports 6"), result.Output);
        AuditEntry row = await server.LastAuditForAsync("alice");
        Assert.Equal(AuditOutcome.Success, row.Outcome);
        Assert.Equal("HYBRID", row.SecurityProtocol);
        Assert.Equal(6, row.CredSspVersion);
    }

    [Theory]
    [InlineData("alice", "wrong", 134, "STATUS_LOGON_FAILURE [0xC000006D]", "ERRCONNECT_LOGON_FAILURE [0x00020014]", NtStatus.LogonFailure)]
    [InlineData("nosuchuser", FrontDoorWithAccounts.Password, 134, "STATUS_LOGON_FAILURE [0xC000006D]", "ERRCONNECT_LOGON_FAILURE [0x00020014]", NtStatus.LogonFailure)]
    [InlineData("locked", FrontDoorWithAccounts.Password, 135, "STATUS_ACCOUNT_LOCKED_OUT [0xC0000234]", "ERRCONNECT_ACCOUNT_LOCKED_OUT [0x00020018]", NtStatus.AccountLockedOut)]
    [InlineData("disabled", FrontDoorWithAccounts.Password, 151, "STATUS_ACCOUNT_DISABLED [0xC0000072]", "ERRCONNECT_ACCOUNT_DISABLED [0x00020012]", NtStatus.AccountDisabled)]
    [InlineData("expired", FrontDoorWithAccounts.Password, 148, "STATUS_PASSWORD_EXPIRED [0xC0000071]", "ERRCONNECT_PASSWORD_EXPIRED [0x0002000E]", NtStatus.PasswordExpired)]
    [InlineData("mustchange", FrontDoorWithAccounts.Password, 149, "STATUS_PASSWORD_MUST_CHANGE [0xC0000224]", "ERRCONNECT_PASSWORD_MUST_CHANGE [0x00020013]", NtStatus.PasswordMustChange)]
    public async Task Xfreerdp_AccountRefused_ReportsTheNtStatusAndIsAudited(string user, string password, int exitCode, string statusLine, string errorLine, NtStatus status)
    {
        ProcessResult result = await RunAsync($"/u:{user}", $"/p:{password}", "/sec:nla");

        Assert.Equal(exitCode, result.ExitCode);
        Assert.True(result.HasLine($"SPNEGO received NTSTATUS: {statusLine} from server"), result.Output);
        Assert.True(result.HasLine(errorLine), result.Output);
        Assert.False(result.HasLine("NLA.authInfo"), result.Output);
        AuditEntry row = await server.LastAuditForAsync(user);
        Assert.Equal(AuditOutcome.Failure, row.Outcome);
        Assert.Equal(status, row.Status);
    }

    [Fact]
    public async Task Xfreerdp_DeniedRemoteLogon_AuthenticatesThenIsDisconnected()
    {
        ProcessResult result = await RunAsync("/u:denied", $"/p:{FrontDoorWithAccounts.Password}", "/sec:nla");

        // HYBRID has no Early User Authorization Result: the user authenticates, the server then disconnects.
        Assert.Equal(147, result.ExitCode);
        Assert.True(result.HasLine("NLA.authInfo"), result.Output);
        Assert.True(result.HasLine("ERRCONNECT_CONNECT_TRANSPORT_FAILED"), result.Output);
        AuditEntry row = await server.LastAuditForAsync("denied");
        Assert.Equal(AuditOutcome.Refused, row.Outcome);
        Assert.Equal(NtStatus.LogonTypeNotGranted, row.Status);
    }

    [Theory]
    [InlineData("/sec:tls")]
    [InlineData("/sec:rdp")]
    public async Task Xfreerdp_WithoutNla_IsToldHybridRequiredByServer(string security)
    {
        ProcessResult result = await RunAsync("/u:alice", $"/p:{FrontDoorWithAccounts.Password}", security);

        Assert.Equal(133, result.ExitCode);
        Assert.True(result.HasLine("Error: HYBRID_REQUIRED_BY_SERVER"), result.Output);
        Assert.True(result.HasLine("Protocol Security Negotiation Failure"), result.Output);
    }

    [Fact]
    public async Task Xfreerdp_SecExt_IsOfferedHybridExButFreeRdp211CannotContinue()
    {
        // FreeRDP 2.11 /sec:ext requests SSL|HYBRID|HYBRID_EX (0x0B); we select HYBRID_EX as Windows does, and 2.11's
        // nego_security_connect has no HYBRID_EX branch, so the client gives up before TLS. HYBRID_EX with the Early
        // User Authorization Result is proven with our own client (FrontDoorAuthenticationTests) instead.
        ProcessResult result = await RunAsync("/u:alice", $"/p:{FrontDoorWithAccounts.Password}", "/sec:ext", "/log-level:TRACE");

        Assert.Equal(133, result.ExitCode);
        Assert.True(result.HasLine("RequestedProtocols: 11"), result.Output);
        Assert.True(result.HasLine("selected_protocol: 8"), result.Output);
        Assert.True(result.HasLine("cannot connect security layer because no protocol has been selected yet"), result.Output);
    }
}
