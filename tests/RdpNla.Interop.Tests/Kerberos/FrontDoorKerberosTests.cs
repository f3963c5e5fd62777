using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;

namespace RdpNla.Tests.Kerberos;

/// <summary>
/// The front door with a keytab exported from a real domain controller, against independent Kerberos initiators
/// (.NET's NegotiateAuthentication over the system GSSAPI with alice's ticket from kinit), raw and inside SPNEGO,
/// CredSSP versions 2 and 6; NTLM still works in the same server.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class FrontDoorKerberosTests
{
    private readonly SambaDomainController _dc;

    public FrontDoorKerberosTests(SambaDomainController dc)
    {
        _dc = dc;
        KerberosClientEnvironment.Use(dc);
    }

    /// <summary>"dotnet": .NET's client, raw Kerberos in negoTokens; "spnego": MIT's SPNEGO initiator through python3-gssapi.</summary>
    [Theory]
    [InlineData("spnego", 6)]
    [InlineData("dotnet", 2)]
    [InlineData("dotnet", 6)]
    [InlineData("spnego", 3)]
    [InlineData("krb5", 5)]
    public async Task Alices_ticket_authenticates_her_and_the_audit_row_names_Kerberos(string peer, int version)
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("alice", "local-password-unused-by-kerberos");

        using ITestInitiator initiator = Initiator(peer);
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, version, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        Assert.True(outcome.Authenticated, $"{outcome}\n{server.LogText}");
        Assert.True(outcome.ServerBindingVerified);
        AuditEntry row = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.Equal(AuditOutcome.Success, row.Outcome);
        Assert.Equal("alice", row.UserName);
        Assert.Equal("LAB.TEST", row.Domain);
        Assert.Equal(version, row.CredSspVersion);
        Assert.StartsWith("authenticated with Kerberos", row.Reason, StringComparison.Ordinal);
        Assert.Contains(peer == "spnego" ? "SPNEGO/Kerberos" : "version " + version, server.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stale_keytab_fails_with_logon_failure_one_log_line_and_an_audit_row()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.Kerberos.Keytab = _dc.StaleKeytab;
            o.Kerberos.ServicePrincipal = SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm;
        });
        await server.AddUserAsync("alice", "local");

        using ITestInitiator initiator = Initiator("spnego");
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        Assert.False(outcome.Authenticated);
        Assert.Equal(NtStatus.LogonFailure, outcome.ServerErrorCode);
        AuditEntry row = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.Equal(AuditOutcome.Failure, row.Outcome);
        Assert.Equal(NtStatus.LogonFailure, row.Status);
        Assert.StartsWith("Kerberos: Kerberos:", row.Reason, StringComparison.Ordinal);
        Assert.Single(server.LogRecords, r => r.Message.Contains("STATUS_LOGON_FAILURE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_principal_without_a_local_account_is_refused_with_logon_failure()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("bob", "local");

        using ITestInitiator initiator = Initiator("dotnet");
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        Assert.Equal(NtStatus.LogonFailure, outcome.ServerErrorCode);
        AuditEntry row = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.Equal(AuditOutcome.Failure, row.Outcome);
        Assert.Equal("alice", row.UserName);
    }

    [Fact]
    public async Task A_principal_of_another_realm_is_refused_even_when_the_local_name_exists()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.Kerberos.Keytab = _dc.Keytab;
            o.Kerberos.Realm = "OTHER.TEST";
        });
        await server.AddUserAsync("alice", "local");

        using ITestInitiator initiator = Initiator("dotnet");
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        Assert.Equal(NtStatus.LogonFailure, outcome.ServerErrorCode);
        AuditEntry row = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.Contains("not of realm OTHER.TEST", row.Reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// RFC 4178 §3.2, §5: Kerberos listed after NEGOEX (Windows 11's order) is chosen over NTLM with request-mic; the
    /// AP-REP comes with the server's mechListMIC, which MIT verifies, and the client's MIC completes the negotiation.
    /// </summary>
    [Theory]
    [InlineData(Protocol.Spnego.SpnegoOids.Kerberos)]
    [InlineData(Protocol.Spnego.SpnegoOids.MsKerberos)]
    public async Task Kerberos_after_another_mechanism_is_chosen_with_the_mechListMIC_exchange_both_ways(string kerberosOid)
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("alice", "local");

        var mechTypes = new[] { Protocol.Spnego.SpnegoOids.NegoEx, kerberosOid, Protocol.Spnego.SpnegoOids.Ntlm };
        using var initiator = new HandBuiltSpnegoInitiator(new PythonInitiator("krb5", SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm, _dc.ClientEnvironment()), mechTypes);
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        Assert.True(outcome.Authenticated, $"{outcome}\n{server.LogText}");
        Assert.Equal(Protocol.Spnego.NegState.RequestMic, initiator.FirstAnswer!.State);
        Assert.Equal(kerberosOid, initiator.FirstAnswer.SupportedMech);
        AuditEntry row = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.StartsWith("authenticated with Kerberos", row.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ntlm_still_works_on_a_server_with_a_keytab()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("carol", "Carol-Passw0rd");

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(server.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx, "carol", "Carol-Passw0rd", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
        AuditEntry row = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.StartsWith("authenticated with NTLM", row.Reason, StringComparison.Ordinal);
    }

    private ITestInitiator Initiator(string peer) => peer == "dotnet"
        ? new DotNetInitiator("Kerberos", SambaDomainController.ServicePrincipal)
        : new PythonInitiator(peer, SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm, _dc.ClientEnvironment());
}
