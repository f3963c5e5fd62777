using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.Kerberos;

/// <summary>
/// Bad AP-REQs from real initiators (python3-gssapi over MIT krb5, tickets from the Samba DC) get the NTSTATUS a Windows
/// server sends in errorCode, one log line and one audit row: a replayed AP-REQ, a ticket for another service, a client
/// clock ten minutes ahead (docs/kerberos.md, "Failures").
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class FrontDoorKerberosBadTicketTests
{
    private readonly SambaDomainController _dc;

    public FrontDoorKerberosBadTicketTests(SambaDomainController dc)
    {
        _dc = dc;
        KerberosClientEnvironment.Use(dc);
    }

    private static string Target => SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm;

    [Fact]
    public async Task A_replayed_AP_REQ_is_refused_by_the_replay_cache_in_the_data_folder()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("alice", "local");
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;

        var recording = new RecordingInitiator(new PythonInitiator("spnego", Target, _dc.ClientEnvironment()));
        byte[] apReq;
        using (recording)
        {
            KerberosPeerOutcome first = await KerberosCredSspPeer.ConnectAsync(server.Port, recording, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, cancellationToken);
            Assert.True(first.Authenticated, $"{first}\n{server.LogText}");
            apReq = recording.FirstToken!;
        }

        using var replay = new ReplayingInitiator(apReq);
        KerberosPeerOutcome second = await KerberosCredSspPeer.ConnectAsync(server.Port, replay, 6, "alice", "LAB.TEST", "unknown to the attacker", cancellationToken);

        Assert.Equal(NtStatus.LogonFailure, second.ServerErrorCode);
        AuditEntry row = (await server.WaitForAuditAsync(2)).Single(r => r.Outcome == AuditOutcome.Failure);
        Assert.Equal(NtStatus.LogonFailure, row.Status);
        Assert.Contains("replay", row.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Single(server.LogRecords, r => r.Message.Contains("replay", StringComparison.OrdinalIgnoreCase));
        Assert.True(File.Exists(KerberosAcceptance.ReplayCachePath(server.DataDirectory)), "the replay cache is not in the data folder");
    }

    [Fact]
    public async Task A_ticket_for_another_service_is_refused_with_logon_failure()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("alice", "local");

        // The DC's own host principal: a real ticket from the KDC, encrypted for another account's keys.
        using var initiator = new PythonInitiator("spnego", "HOST/dc1.lab.test@" + SambaDomainController.Realm, _dc.ClientEnvironment());
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        AuditEntry row = await AssertOneRefusalAsync(server, outcome, NtStatus.LogonFailure, "STATUS_LOGON_FAILURE");
        Assert.StartsWith("Kerberos:", row.Reason, StringComparison.Ordinal);
    }

    /// <summary>A client behind the KDC cannot be tested this way: MIT's initiator refuses its own not-yet-valid ticket.</summary>
    [Fact]
    public async Task A_client_clock_ten_minutes_ahead_gets_time_difference_at_dc()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("alice", "local");

        // alice's service ticket is already in her cache (the fixture ran kvno): the skewed client needs no KDC.
        using var initiator = new PythonInitiator("spnego", Target, _dc.ClientEnvironment(), "+600s");
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        AuditEntry row = await AssertOneRefusalAsync(server, outcome, NtStatus.TimeDifferenceAtDc, "STATUS_TIME_DIFFERENCE_AT_DC");
        Assert.Contains("skew", row.Reason, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// MIT's initiator never presents an expired ticket, so python3-impacket builds one in the service's key, with an
    /// authenticator of now: the acceptor gets past the clock check to the ticket's end time (KRB_AP_ERR_TKT_EXPIRED).
    /// </summary>
    [Fact]
    public async Task An_expired_ticket_with_a_fresh_authenticator_is_refused_with_logon_failure()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("alice", "local");
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        byte[] token = await ForgedTicket.BuildAsync(_dc.Keytab, SambaDomainController.ServicePrincipal, SambaDomainController.Realm, "alice", SambaDomainController.Realm, TimeSpan.FromHours(-1), cancellationToken);

        using var initiator = new ReplayingInitiator(token);
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, cancellationToken);

        AuditEntry row = await AssertOneRefusalAsync(server, outcome, NtStatus.LogonFailure, "STATUS_LOGON_FAILURE");
        Assert.StartsWith("Kerberos:", row.Reason, StringComparison.Ordinal);
        Assert.Contains("Ticket expired", row.Reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// A ticket naming another realm (the client's, or the ticket's own), encrypted in the right service key: MIT's
    /// acceptor takes it (the key is all it checks), and the server refuses the principal for its realm. The client sees
    /// STATUS_LOGON_FAILURE, as for a wrong key; only the server's log and audit row tell the two apart.
    /// </summary>
    [Theory]
    [InlineData("LAB.TEST")]
    [InlineData("OTHER.TEST")]
    public async Task A_ticket_for_a_principal_of_another_realm_is_refused_for_its_realm(string ticketRealm)
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await server.AddUserAsync("alice", "local");
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        byte[] token = await ForgedTicket.BuildAsync(_dc.Keytab, SambaDomainController.ServicePrincipal, ticketRealm, "alice", "OTHER.TEST", TimeSpan.FromHours(1), cancellationToken);

        using var initiator = new ReplayingInitiator(token);
        KerberosPeerOutcome outcome = await KerberosCredSspPeer.ConnectAsync(server.Port, initiator, 6, "alice", "OTHER.TEST", SambaDomainController.AlicePassword, cancellationToken);

        AuditEntry row = await AssertOneRefusalAsync(server, outcome, NtStatus.LogonFailure, "STATUS_LOGON_FAILURE");
        Assert.Contains("alice@OTHER.TEST", row.Reason, StringComparison.Ordinal);
        Assert.Contains("not of realm LAB.TEST", row.Reason, StringComparison.Ordinal);
    }

    /// <summary>The client read <paramref name="status"/> in errorCode; one failure row with it, one log line naming it.</summary>
    private static async Task<AuditEntry> AssertOneRefusalAsync(TestFrontDoor server, KerberosPeerOutcome outcome, NtStatus status, string statusName)
    {
        Assert.Equal(status, outcome.ServerErrorCode);
        AuditEntry row = Assert.Single(await server.WaitForAuditAsync(1));
        Assert.Equal(AuditOutcome.Failure, row.Outcome);
        Assert.Equal(status, row.Status);
        Assert.Single(server.LogRecords, r => r.Message.Contains(statusName, StringComparison.Ordinal));
        return row;
    }
}
