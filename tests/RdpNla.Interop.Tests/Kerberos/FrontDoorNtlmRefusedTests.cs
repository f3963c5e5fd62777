using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.FrontDoor;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Kerberos;

/// <summary>
/// <c>Ntlm:Incoming</c> <c>Deny</c> (docs/kerberos.md, "Refusing NTLM"): FreeRDP's xfreerdp, which speaks NTLM only, is
/// refused with STATUS_NTLM_BLOCKED, one log line and one audit row, and Kerberos from MIT's SPNEGO initiator still
/// logs on to the same server.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class FrontDoorNtlmRefusedTests(SambaDomainController dc, XvfbDisplay display)
{
    private const string LocalPassword = "Local-Passw0rd";

    [Fact]
    public async Task Xfreerdp_is_refused_with_ntlm_blocked_and_kerberos_still_logs_on()
    {
        KerberosClientEnvironment.Use(dc);
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.Kerberos.Keytab = dc.Keytab;
            o.Ntlm.Incoming = NtlmIncomingPolicy.Deny;
        });
        await server.AddUserAsync("alice", LocalPassword);
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;

        // The right local password: only the policy refuses it.
        ProcessResult xfreerdp = await Xfreerdp.RunAsync(display, [$"/v:{server.Address}", "/cert:ignore", "+auth-only", "/log-level:DEBUG", "/u:alice", $"/p:{LocalPassword}", "/sec:nla"], cancellationToken);

        Assert.True(xfreerdp.HasLine("SPNEGO received NTSTATUS: STATUS_NTLM_BLOCKED [0xC0000418] from server"), xfreerdp.Output);
        Assert.False(xfreerdp.HasLine("NLA.authInfo"), xfreerdp.Output);
        AuditEntry refused = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.Equal((AuditOutcome.Failure, NtStatus.NtlmBlocked, "alice"), (refused.Outcome, refused.Status, refused.UserName));
        Assert.StartsWith("NTLM: this server refuses NTLM", refused.Reason, StringComparison.Ordinal);
        Assert.Single(server.LogRecords, r => r.Message.Contains("failed: STATUS_NTLM_BLOCKED: NTLM: this server refuses NTLM", StringComparison.Ordinal));

        using var initiator = new PythonInitiator("spnego", SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm, dc.ClientEnvironment());
        KerberosPeerOutcome kerberos = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, cancellationToken);

        Assert.True(kerberos.Authenticated, $"{kerberos}\n{server.LogText}");
        AuditEntry accepted = (await server.WaitForAuditAsync(2)).Single(r => r.Outcome == AuditOutcome.Success);
        Assert.StartsWith("authenticated with Kerberos", accepted.Reason, StringComparison.Ordinal);
    }
}
