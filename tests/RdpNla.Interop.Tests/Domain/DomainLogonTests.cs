using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;
using RdpNla.Tests.Doctor;
using RdpNla.Tests.Portal;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.Domain;

/// <summary>
/// Domain users at the front door: FreeRDP's xfreerdp (NTLM, <c>/d:LAB</c>) against the front door with
/// <c>Directory:NtlmPassthrough = winbind</c>, whose winbind client thread reaches the Samba AD DC's winbind through the
/// DC's run folder bound on /run/samba in that thread's own mount namespace. Every domain user exists only in the DC.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class DomainLogonTests(SambaDomainController dc, XvfbDisplay display)
{
    private const string NlaCompleted = "rdp_client_transition_to_state CONNECTION_STATE_NLA --> CONNECTION_STATE_MCS_CONNECT";
    private const string LocalPassword = "Local-Passw0rd!";

    private Task<TestFrontDoor> StartAsync(params string[] allowedGroups) => TestFrontDoor.StartAsync(o =>
    {
        o.Directory.NtlmPassthrough = "winbind";
        o.Directory.AllowedGroups = allowedGroups.Length == 0 ? [$"LAB\\{SambaDomainController.AllowedGroup}"] : [.. allowedGroups];
        o.Directory.WinbindRunDirectory = dc.RunDirectory;
    });

    private Task<ProcessResult> XfreerdpAsync(TestFrontDoor door, params string[] arguments) => Xfreerdp.RunAsync(
        display,
        [$"/v:{door.Address}", "/cert:ignore", "+auth-only", "/log-level:DEBUG", "/sec:nla", .. arguments],
        TestContext.Current.CancellationToken);

    [Theory]
    [InlineData("/u:alice", "/d:LAB")]
    [InlineData("/u:alice", "/d:lab.test")]
    [InlineData("/u:alice@lab.test")]
    public async Task Xfreerdp_domain_user_completes_NLA_with_the_session_key_from_the_DC(params string[] user)
    {
        await using TestFrontDoor door = await StartAsync();

        ProcessResult result = await XfreerdpAsync(door, [.. user, $"/p:{SambaDomainController.AlicePassword}"]);

        // authInfo is sealed with keys derived from the DC's SessionBaseKey: xfreerdp only sends it after our
        // pubKeyAuth verified, and the server only moves on after unsealing it.
        Assert.True(result.HasLine("NLA.authInfo (length = "), result.Output + door.LogText);
        Assert.True(result.HasLine(NlaCompleted), result.Output);
        AuditEntry row = await door.LastAuditForAsync(user[0].Contains('@', StringComparison.Ordinal) ? "alice@lab.test" : "alice");
        Assert.Equal(AuditOutcome.Success, row.Outcome);
        Assert.StartsWith("authenticated with NTLM", row.Reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// xfreerdp → rdpnla serve (domain logon) → xrdp: the domain user's delegated credentials (checked against the
    /// response the DC verified) are injected into xrdp's Client Info PDU, and xrdp's PAM logs on the local account of
    /// the same name and password.
    /// </summary>
    [Fact]
    public async Task Xfreerdp_domain_user_reaches_an_xrdp_desktop_through_the_gateway()
    {
        await using Gateway.GatewayXrdpBackend backend = await Gateway.GatewayXrdpBackend.StartAsync();
        await dc.AddUserAsync(backend.UserName, backend.Password);
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.Directory.NtlmPassthrough = "winbind";
            o.Directory.AllowedGroups = [$"LAB\\{SambaDomainController.AllowedGroup}"];
            o.Directory.WinbindRunDirectory = dc.RunDirectory;
            o.Gateway.DefaultBackend = backend.Address;
        });

        // xrdp is a TLS-only backend: the password goes in the Client Info PDU, which the operator declares explicitly.
        await door.Database.Gateway.SetBackendSecurityAsync(backend.Address, Server.Gateway.BackendSecurity.Tls, TestContext.Current.CancellationToken);

        var output = new System.Text.StringBuilder();
        (Gateway.FrameBufferXvfb xvfb, System.Diagnostics.Process client) = await Gateway.GatewayPeers.StartXfreerdpSessionAsync(
            [$"/v:{door.Address}", $"/u:{backend.UserName}", "/d:LAB", $"/p:{backend.Password}", "/sec:nla", "/cert:ignore", "/size:800x600", "-decorations"],
            output);
        try
        {
            Assert.True(
                await backend.WaitForSesmanLineAsync($"Session started successfully for user {backend.UserName}", TimeSpan.FromSeconds(45)),
                $"sesman:\n{backend.SesmanLog}\nxfreerdp:\n{Gateway.GatewayPeers.Snapshot(output)}\ngateway:\n{door.LogText}");
            Assert.Contains($"Injected the credentials of {backend.UserName} into the Client Info PDU (INFO_AUTOLOGON)", door.LogText, StringComparison.Ordinal);
        }
        finally
        {
            await ExternalProcess.StopAsync(client);
            await xvfb.DisposeAsync();
        }

        AuditEntry row = await door.LastAuditForAsync(backend.UserName);
        Assert.Equal(AuditOutcome.Success, row.Outcome);
        Assert.Equal("authenticated with NTLM; password verified", row.Reason);
        Assert.Empty(await door.Database.Users.ListAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData(SambaDomainController.Users.WrongPassword, "wrong-password", 134, "STATUS_LOGON_FAILURE [0xC000006D]", NtStatus.LogonFailure, "wrong-credentials")]
    [InlineData("nosuchuser", SambaDomainController.AlicePassword, 134, "STATUS_LOGON_FAILURE [0xC000006D]", NtStatus.LogonFailure, "wrong-credentials")]
    [InlineData(SambaDomainController.Users.Disabled, SambaDomainController.AlicePassword, 151, "STATUS_ACCOUNT_DISABLED [0xC0000072]", NtStatus.AccountDisabled, "account-disabled")]
    [InlineData(SambaDomainController.Users.MustChange, SambaDomainController.AlicePassword, 149, "STATUS_PASSWORD_MUST_CHANGE [0xC0000224]", NtStatus.PasswordMustChange, "password-must-change")]
    [InlineData(SambaDomainController.Users.Expired, SambaDomainController.AlicePassword, 157, "STATUS_ACCOUNT_EXPIRED [0xC0000193]", NtStatus.AccountExpired, "account-restricted")]
    [InlineData(SambaDomainController.Users.OutsideHours, SambaDomainController.AlicePassword, 132, "STATUS_INVALID_LOGON_HOURS [0xC000006F]", NtStatus.InvalidLogonHours, "account-restricted")]
    [InlineData(SambaDomainController.Users.OtherWorkstation, SambaDomainController.AlicePassword, 132, "STATUS_INVALID_WORKSTATION [0xC0000070]", NtStatus.InvalidWorkstation, "account-restricted")]
    [InlineData(SambaDomainController.Users.LockedOut, SambaDomainController.AlicePassword, 135, "STATUS_ACCOUNT_LOCKED_OUT [0xC0000234]", NtStatus.AccountLockedOut, "account-locked")]
    public async Task Xfreerdp_gets_the_account_state_the_DC_reports_and_doctor_names_it(string user, string password, int exitCode, string statusLine, NtStatus status, string doctorCause)
    {
        if (user == SambaDomainController.Users.LockedOut)
        {
            // The DC's own bad-password count, not the front door's.
            await dc.LockOutAsync();
        }
        else if (user == SambaDomainController.Users.WrongPassword)
        {
            // Two wrong passwords follow (xfreerdp's, doctor's): below the DC's threshold whatever ran before.
            await dc.ClearBadPasswordCountAsync(user);
        }

        await using TestFrontDoor door = await StartAsync();

        ProcessResult result = await XfreerdpAsync(door, $"/u:{user}", "/d:LAB", $"/p:{password}");

        Assert.True(result.HasLine($"SPNEGO received NTSTATUS: {statusLine} from server"), result.Output + door.LogText);
        Assert.Equal(exitCode, result.ExitCode);
        Assert.False(result.HasLine("NLA.authInfo"), result.Output);
        AuditEntry row = await door.LastAuditForAsync(user);
        Assert.Equal(AuditOutcome.Failure, row.Outcome);
        Assert.Equal(status, row.Status);
        Assert.Contains("the domain controller refused the logon", row.Reason, StringComparison.Ordinal);

        CliResult doctor = await DoctorCli.RunWithPasswordAsync(password, door.Address, "-u", $"LAB\\{user}", "--password-stdin", "--json");
        JsonElement diagnosis = ClientCli.Parse(doctor);
        Assert.True(doctorCause == diagnosis.Str("result"), doctor.Output + door.LogText);
        Assert.Contains(DoctorCli.Evidence(diagnosis), e => e.Contains($"errorCode {NtStatusText.Name(status)}", StringComparison.Ordinal));
        if (user == SambaDomainController.Users.WrongPassword)
        {
            // One wrong password typed is one bad password at the DC: neither the front door nor doctor tries it twice.
            Assert.Equal(2, await dc.BadPasswordCountAsync(user));
        }
    }

    [Fact]
    public async Task A_domain_user_outside_the_allowed_groups_is_denied_and_the_audit_row_names_the_group()
    {
        await using TestFrontDoor door = await StartAsync();

        // HYBRID_EX (our client): the Early User Authorization Result says AUTHZ_ACCESS_DENIED.
        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx, SambaDomainController.Users.Outsider, SambaDomainController.AlicePassword, "LAB", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
        Assert.Equal(EarlyUserAuthorizationResult.AccessDenied, outcome.EarlyUserAuthorization);

        // HYBRID (xfreerdp): authenticated, then disconnected.
        ProcessResult result = await XfreerdpAsync(door, $"/u:{SambaDomainController.Users.Outsider}", "/d:LAB", $"/p:{SambaDomainController.AlicePassword}");
        Assert.True(result.HasLine("NLA.authInfo"), result.Output);
        Assert.True(result.HasLine("ERRCONNECT_CONNECT_TRANSPORT_FAILED"), result.Output);

        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(2);
        Assert.Equal(2, rows.Count);
        Assert.All(rows, row =>
        {
            Assert.Equal(AuditOutcome.Refused, row.Outcome);
            Assert.Equal(SambaDomainController.Users.Outsider, row.UserName);
            Assert.Contains($"not a member of an allowed group: LAB\\{SambaDomainController.AllowedGroup}", row.Reason, StringComparison.Ordinal);
        });
        Assert.Contains("AUTHZ_ACCESS_DENIED", rows[0].Reason, StringComparison.Ordinal);

        // 'LAB\Domain Users' lets every domain user in.
        await using TestFrontDoor everyone = await StartAsync("LAB\\Domain Users");
        TestRdpOutcome allowed = await TestRdpClient.ConnectAsync(everyone.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx, SambaDomainController.Users.Outsider, SambaDomainController.AlicePassword, "LAB", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(EarlyUserAuthorizationResult.Success, allowed.EarlyUserAuthorization);
    }

    /// <summary>
    /// A local alice who must use a second factor and the domain's LAB\alice: the second factor is looked up by the
    /// verified identity's key (NETBIOS\USER for a domain user), so the domain user is not held for the local user's
    /// setting, and the local user still is.
    /// </summary>
    [Fact]
    public async Task A_domain_user_is_not_held_for_the_second_factor_of_the_local_user_of_the_same_name()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(o =>
        {
            o.Directory.NtlmPassthrough = "winbind";
            o.Directory.AllowedGroups = [$"LAB\\{SambaDomainController.AllowedGroup}"];
            o.Directory.WinbindRunDirectory = dc.RunDirectory;
        });
        await door.AddUserAsync("alice", LocalPassword);
        Assert.True(await new Server.Portal.SelfServiceStore(door.Database, TimeProvider.System).SetUserMfaRequiredAsync("alice", true, TestContext.Current.CancellationToken));
        const SecurityProtocols HybridEx = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

        TestRdpOutcome domainUser = await TestRdpClient.ConnectAsync(door.Port, HybridEx, "alice", SambaDomainController.AlicePassword, "LAB", cancellationToken: TestContext.Current.CancellationToken);
        AuditEntry domainRow = await door.LastAuditForAsync("alice");
        TestRdpOutcome localUser = await TestRdpClient.ConnectAsync(door.Port, HybridEx, "alice", LocalPassword, cancellationToken: TestContext.Current.CancellationToken);
        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(3);

        Assert.True(domainUser.EarlyUserAuthorization == EarlyUserAuthorizationResult.Success, $"{domainUser}\n{door.LogText}");
        Assert.Equal(("LAB", AuditOutcome.Success), (domainRow.Domain, domainRow.Outcome));

        // The local alice is held: without an enrolled authenticator the hold ends at once with AUTHZ_ACCESS_DENIED.
        Assert.Equal(NlaStatus.Completed, localUser.CredSspStatus);
        Assert.Equal(EarlyUserAuthorizationResult.AccessDenied, localUser.EarlyUserAuthorization);
        AuditEntry refused = Assert.Single(rows, r => r.Outcome == AuditOutcome.Refused);
        Assert.Equal(("alice", NtStatus.AccessDenied), (refused.UserName, refused.Status));
        Assert.StartsWith("second factor required, but no authenticator is enrolled", refused.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(rows, r => r.Domain == "LAB" && r.Outcome != AuditOutcome.Success);
    }

    [Fact]
    public async Task The_DC_stopped_fails_domain_users_with_no_logon_servers_while_local_users_log_in_and_it_recovers()
    {
        await using TestFrontDoor door = await StartAsync();
        await door.AddUserAsync("carol", LocalPassword);
        await dc.StopAsync();
        try
        {
            ProcessResult domainUser = await XfreerdpAsync(door, "/u:alice", "/d:LAB", $"/p:{SambaDomainController.AlicePassword}");
            Assert.True(domainUser.HasLine("SPNEGO received NTSTATUS: STATUS_NO_LOGON_SERVERS [0xC000005E] from server"), domainUser.Output + door.LogText);
            AuditEntry failed = await door.LastAuditForAsync("alice");
            Assert.Equal(AuditOutcome.Failure, failed.Outcome);
            Assert.Equal(NtStatus.NoLogonServers, failed.Status);
            Assert.Contains(door.LogRecords, r => r.Message.StartsWith("No domain controller answered for LAB\\alice", StringComparison.Ordinal));

            CliResult doctor = await DoctorCli.RunWithPasswordAsync(SambaDomainController.AlicePassword, door.Address, "-u", "LAB\\alice", "--password-stdin", "--json");
            Assert.True((19, "logon-servers-unavailable") == (doctor.ExitCode, ClientCli.Parse(doctor).Str("result")), doctor.Output + door.LogText);
            (CliResult login, JsonElement loginJson) = await ClientCli.LoginJsonAsync(door.Address, "LAB\\alice", SambaDomainController.AlicePassword);
            Assert.True((14, "error", "STATUS_NO_LOGON_SERVERS") == (login.ExitCode, loginJson.Str("result"), loginJson.Str("ntstatus")), login.Output + login.Error);

            ProcessResult localUser = await XfreerdpAsync(door, "/u:carol", $"/p:{LocalPassword}");
            Assert.True(localUser.HasLine(NlaCompleted), localUser.Output + door.LogText);
            Assert.Equal(AuditOutcome.Success, (await door.LastAuditForAsync("carol")).Outcome);
        }
        finally
        {
            await dc.StartAsync();
        }

        // The same front door, no restart: the DC answers again.
        ProcessResult recovered = await XfreerdpAsync(door, "/u:alice", "/d:LAB", $"/p:{SambaDomainController.AlicePassword}");
        Assert.True(recovered.HasLine(NlaCompleted), recovered.Output + door.LogText);
    }

    [Fact]
    public async Task The_database_holds_no_hash_of_a_domain_user_after_logons()
    {
        await using TestFrontDoor door = await StartAsync();

        ProcessResult ok = await XfreerdpAsync(door, "/u:alice", "/d:LAB", $"/p:{SambaDomainController.AlicePassword}");
        Assert.True(ok.HasLine(NlaCompleted), ok.Output + door.LogText);
        await dc.ClearBadPasswordCountAsync(SambaDomainController.Users.WrongPassword);
        await XfreerdpAsync(door, $"/u:{SambaDomainController.Users.WrongPassword}", "/d:LAB", "/p:wrong");
        await door.WaitForAuditAsync(2);

        Assert.Empty(await door.Database.Users.ListAsync(TestContext.Current.CancellationToken));
        byte[] hash = NtlmCrypto.NtOwfV1(SambaDomainController.AlicePassword);
        foreach (string file in Directory.GetFiles(door.DataDirectory, "rdpnla.db*"))
        {
            byte[] content = await ReadSharedAsync(file);
            Assert.True(content.AsSpan().IndexOf(hash) < 0, $"{file} holds alice's NT hash");
        }
    }

    /// <summary>A Kerberos domain user: no local account, the DC's KDC proved the identity, winbind gives the groups.</summary>
    [Theory]
    [InlineData("LAB\\rdp-users", true)]
    [InlineData("LAB\\Domain Admins", false)]
    public async Task A_Kerberos_ticket_of_a_domain_user_logs_on_by_domain_group(string allowedGroup, bool allowed)
    {
        Kerberos.KerberosClientEnvironment.Use(dc);
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.Kerberos.Keytab = dc.Keytab;
            o.Directory.NtlmPassthrough = "winbind";
            o.Directory.AllowedGroups = [allowedGroup];
            o.Directory.WinbindRunDirectory = dc.RunDirectory;
        });

        using var initiator = new Kerberos.DotNetInitiator("Kerberos", SambaDomainController.ServicePrincipal);
        Kerberos.KerberosPeerOutcome outcome = await Kerberos.KerberosCredSspPeer.ConnectAsync(door.Port, initiator, 6, "alice", "LAB.TEST", SambaDomainController.AlicePassword, TestContext.Current.CancellationToken);

        // The ticket verified either way (the binding too); only the group decides.
        Assert.True(outcome.ServerBindingVerified, $"{outcome}\n{door.LogText}");
        Assert.Equal(allowed, outcome.Authenticated);
        Assert.Equal(allowed ? EarlyUserAuthorizationResult.Success : EarlyUserAuthorizationResult.AccessDenied, outcome.EarlyUserAuthorization);
        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal(allowed ? AuditOutcome.Success : AuditOutcome.Refused, row.Outcome);
        Assert.Equal("alice", row.UserName);
        Assert.Equal("LAB.TEST", row.Domain);
        if (!allowed)
        {
            Assert.Contains("not a member of an allowed group: LAB\\Domain Admins", row.Reason, StringComparison.Ordinal);
        }

        Assert.Empty(await door.Database.Users.ListAsync(TestContext.Current.CancellationToken));

        // With domain logons an empty local store is normal: no "every logon will fail" warning.
        Assert.DoesNotContain("The user store has no users", door.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public void Serve_refuses_domain_logons_without_an_allowed_group_and_names_the_setting()
    {
        var overrides = new Dictionary<string, string?> { ["Directory:NtlmPassthrough"] = "winbind" };

        bool valid = global::RdpNla.Cli.Commands.ServeCommand.TryBindOptions(null, overrides, out _, out _, out IReadOnlyList<string> errors);

        Assert.False(valid);
        string error = Assert.Single(errors);
        Assert.Contains("--allowed-group 'DOMAIN\\group'", error, StringComparison.Ordinal);
        Assert.Contains("Directory:AllowedGroups", error, StringComparison.Ordinal);
        Assert.Contains("Domain Users", error, StringComparison.Ordinal);
    }

    private static async Task<byte[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// A domain user changes the password on the portal: the front door's winbind thread asks the DC
    /// (wbcChangeUserPasswordEx), which proves the old password and applies its own policy.
    /// </summary>
    [Fact]
    public async Task Must_change_domain_user_fails_NLA_changes_the_password_on_the_portal_at_the_DC_then_completes_NLA()
    {
        const string User = "petra";
        const string ChangedPassword = "Changed-At-The-DC-9";
        await dc.AddUserAsync(User, SambaDomainController.AlicePassword, mustChange: true);
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(o =>
        {
            o.Directory.NtlmPassthrough = "winbind";
            o.Directory.AllowedGroups = [$"LAB\\{SambaDomainController.AllowedGroup}"];
            o.Directory.WinbindRunDirectory = dc.RunDirectory;
        });

        ProcessResult before = await XfreerdpAsync(door, $"/u:{User}", "/d:LAB", $"/p:{SambaDomainController.AlicePassword}");
        Assert.True(before.HasLine("SPNEGO received NTSTATUS: STATUS_PASSWORD_MUST_CHANGE [0xC0000224] from server"), before.Output + door.LogText);
        Assert.Equal(149, before.ExitCode);
        AuditEntry refusal = await door.LastAuditForAsync(User);
        Assert.EndsWith($"; change it at {door.PortalUrl()}password", refusal.Reason, StringComparison.Ordinal);

        using HttpClient client = door.Client();

        // A wrong old password: the DC refuses it (and counts it in its own badPwdCount).
        (int wrong, JsonElement wrongBody) = await client.PostJsonAsync("api/password", new { user = $"LAB\\{User}", oldPassword = "Not-The-Passw0rd", newPassword = ChangedPassword });
        Assert.Equal((401, "wrong-credentials"), (wrong, wrongBody.GetProperty("error").GetString()));

        // Neither winbind nor a DC answers: the change fails closed.
        await dc.StopAsync();
        try
        {
            (int down, JsonElement downBody) = await client.PostJsonAsync("api/password", new { user = $"LAB\\{User}", oldPassword = SambaDomainController.AlicePassword, newPassword = ChangedPassword });
            Assert.Equal((503, "domain-unavailable"), (down, downBody.GetProperty("error").GetString()));
        }
        finally
        {
            await dc.StartAsync();
        }

        // The DC's policy, not the portal's: it refuses a short password and says why.
        (int weak, JsonElement weakBody) = await client.PostJsonAsync("api/password", new { user = $"{User}@lab.test", oldPassword = SambaDomainController.AlicePassword, newPassword = "Sh0rt" });
        Assert.Equal((422, "password-policy"), (weak, weakBody.GetProperty("error").GetString()));
        Assert.Contains("domain", weakBody.GetProperty("message").GetString(), StringComparison.Ordinal);

        (int changed, JsonElement changedBody) = await client.PostJsonAsync("api/password", new { user = $"LAB\\{User}", oldPassword = SambaDomainController.AlicePassword, newPassword = ChangedPassword });
        Assert.True(changed == 200, changedBody.ToString() + door.LogText);

        ProcessResult after = await XfreerdpAsync(door, $"/u:{User}", "/d:LAB", $"/p:{ChangedPassword}");
        Assert.True(after.HasLine(NlaCompleted), after.Output + door.LogText);

        // The previous password is not tried: like a Windows DC, Samba accepts it for NTLM network logons for an hour
        // after the change, its "old password allowed period" (Microsoft KB 906305).
        IReadOnlyList<AuditEntry> rows = await door.AuditAsync();
        Assert.Contains(rows, r => r.SecurityProtocol == "PORTAL" && r.Outcome == AuditOutcome.Failure && r.Reason.StartsWith("portal password change: the domain controller refused the old password (", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.SecurityProtocol == "PORTAL" && r.Status == NtStatus.PasswordRestriction && r.Reason.StartsWith("portal password change refused by the domain controller: ", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.SecurityProtocol == "PORTAL" && r.Status == NtStatus.NoLogonServers && r.Reason.StartsWith("portal password change: no domain controller answered (", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.SecurityProtocol == "PORTAL" && r.Outcome == AuditOutcome.Success && r.Reason == "portal password changed at the domain controller");

        // Nothing of the domain user is stored: no local user was created.
        Assert.Empty(await door.Database.Users.ListAsync(TestContext.Current.CancellationToken));
    }
}
